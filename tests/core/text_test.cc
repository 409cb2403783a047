#include "agent/core/text.h"

#include <gtest/gtest.h>

namespace linkwatch {
namespace {

TEST(TextTest, CaseHelpersTouchOnlyAsciiLetters) {
  EXPECT_EQ(AsciiToLower("Content-Type ÄB"), "content-type Äb");
  EXPECT_EQ(AsciiToUpper("varchar(10) ä"), "VARCHAR(10) ä");
  EXPECT_TRUE(EqualsIgnoreCase("Retry-After", "retry-after"));
  EXPECT_FALSE(EqualsIgnoreCase("Retry-After", "retry-afte"));
  EXPECT_FALSE(EqualsIgnoreCase("[", "{"));  // 0x5B vs 0x7B: not letters
}

TEST(TextTest, LessIgnoreCaseOrdersByLowercasedBytes) {
  EXPECT_FALSE(LessIgnoreCase("ABC", "abc"));
  EXPECT_FALSE(LessIgnoreCase("abc", "ABC"));
  EXPECT_TRUE(LessIgnoreCase("ab", "ABC"));
  EXPECT_TRUE(LessIgnoreCase("A", "b"));
  // Lowercased before comparing: '_' (0x5F) sorts before 'z' (0x7A), not after 'Z'.
  EXPECT_TRUE(LessIgnoreCase("_", "Z"));
  EXPECT_FALSE(LessIgnoreCase("Z", "_"));
}

TEST(TextTest, StripAsciiWhitespaceKeepsTheMiddle) {
  EXPECT_EQ(StripAsciiWhitespace(" \t a b \r\n"), "a b");
  EXPECT_EQ(StripAsciiWhitespace("   "), "");
  EXPECT_EQ(StripAsciiWhitespace(""), "");
}

TEST(TextTest, PercentEncodeKeepsOnlyUnreservedCharacters) {
  EXPECT_EQ(PercentEncode("+1 555/0001~a-b_c.d"), "%2B1%20555%2F0001~a-b_c.d");
  EXPECT_EQ(PercentEncode("a=b&c\xc3\xa9"), "a%3Db%26c%C3%A9");
  EXPECT_EQ(PercentEncode(""), "");
}

}  // namespace
}  // namespace linkwatch
