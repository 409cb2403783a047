#include "agent/core/crypto.h"

#include <gtest/gtest.h>

namespace linkwatch {
namespace {

TEST(CryptoTest, HmacSha256MatchesRfc4231) {
  // RFC 4231, test case 2.
  EXPECT_EQ(HexEncode(HmacSha256("Jefe", "what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  // Test case 1: key = 20 bytes of 0x0b, data = "Hi There".
  EXPECT_EQ(HexEncode(HmacSha256(std::string(20, '\x0b'), "Hi There")),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
}

TEST(CryptoTest, Sha256MatchesFips180Vector) {
  EXPECT_EQ(HexEncode(Sha256("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(CryptoTest, Base64EncodesWithPadding) {
  EXPECT_EQ(Base64Encode(""), "");
  EXPECT_EQ(Base64Encode("f"), "Zg==");
  EXPECT_EQ(Base64Encode("fo"), "Zm8=");
  EXPECT_EQ(Base64Encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(Base64Encode(std::string("\xff\x00\x10", 3)), "/wAQ");
}

TEST(CryptoTest, Base64DecodeRoundTripsAndRejectsMalformedText) {
  EXPECT_EQ(Base64Decode(""), "");
  EXPECT_EQ(Base64Decode("Zg=="), "f");
  EXPECT_EQ(Base64Decode("Zm8="), "fo");
  EXPECT_EQ(Base64Decode("Zm9vYmFy"), "foobar");
  EXPECT_EQ(Base64Decode("/wAQ"), std::string("\xff\x00\x10", 3));
  EXPECT_EQ(Base64Decode("Zm9"), std::nullopt);       // cut short
  EXPECT_EQ(Base64Decode("Zm 9v"), std::nullopt);     // whitespace
  EXPECT_EQ(Base64Decode("Zm9v-_=="), std::nullopt);  // URL alphabet
  EXPECT_EQ(Base64Decode("Z=9v"), std::nullopt);      // padding inside
  EXPECT_EQ(Base64Decode("Zg==Zg=="), std::nullopt);  // padding inside
}

}  // namespace
}  // namespace linkwatch
