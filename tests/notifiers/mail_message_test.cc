// The MIME message builder of the email integration: headers, RFC 2047
// subjects, no header injection, folding, quoted-printable, multipart.
#include "notifiers/mail_message.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <sstream>

#include "tests/notifiers/test_util.h"

namespace linkwatch::notifiers {
namespace {
// Own names: a unity build puts this file beside the other tests.
namespace mail_message_test {

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  size_t start = 0, end;
  while ((end = text.find("\r\n", start)) != std::string::npos) {
    lines.push_back(text.substr(start, end - start));
    start = end + 2;
  }
  if (start < text.size()) lines.push_back(text.substr(start));
  return lines;
}

// Base64 decoding through OpenSSL, independent of the encoder under test.
std::string Base64Decode(const std::string& b64) {
  std::string out(b64.size(), '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(b64.data()),
                                static_cast<int>(b64.size()));
  if (n < 0) return "<bad base64>";
  size_t pad = 0;
  while (pad < b64.size() && b64[b64.size() - 1 - pad] == '=') ++pad;
  out.resize(static_cast<size_t>(n) - pad);
  return out;
}

// The header's value after RFC 5322 unfolding and RFC 2047 decoding of
// base64 UTF-8 encoded-words (adjacent words joined, as readers do).
std::string DecodeHeader(const std::string& field) {
  std::string unfolded;
  for (const auto& line : Lines(field)) unfolded += line;
  std::string value = unfolded.substr(unfolded.find(':') + 2);
  std::string out;
  size_t pos = 0;
  bool last_was_word = false;
  while (pos < value.size()) {
    const size_t start = value.find("=?UTF-8?B?", pos);
    if (start == std::string::npos) {
      out += value.substr(pos);
      break;
    }
    std::string between = value.substr(pos, start - pos);
    if (!(last_was_word && between.find_first_not_of(' ') == std::string::npos)) out += between;
    const size_t end = value.find("?=", start + 10);
    out += Base64Decode(value.substr(start + 10, end - start - 10));
    pos = end + 2;
    last_was_word = true;
  }
  return out;
}

bool IsValidUtf8(const std::string& s) {
  for (size_t i = 0; i < s.size();) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    const size_t len = c < 0x80         ? 1
                       : (c >> 5) == 6  ? 2
                       : (c >> 4) == 14 ? 3
                       : (c >> 3) == 30 ? 4
                                        : 0;
    if (len == 0 || i + len > s.size()) return false;
    for (size_t k = 1; k < len; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    }
    i += len;
  }
  return true;
}

MailMessage Sample() {
  MailMessage m;
  m.from = *ParseMailbox("linkwatch@example.com");
  m.to = {*ParseMailbox("oncall@example.com"), *ParseMailbox("Ops Team <ops@example.org>")};
  m.subject = "[FIRING:2] SyncStalled crm";
  m.text = "FIRING SyncStalled crm/account\n  profile: crm\n";
  m.html = "<p>FIRING</p>\n";
  m.date = testutil::T0();
  m.id = "0123456789abcdef";
  return m;
}

std::string HeaderBlock(const std::string& mail) { return mail.substr(0, mail.find("\r\n\r\n")); }

TEST(MailMessageTest, HasTheRfc5322HeadersAndAMultipartAlternativeBody) {
  const std::string mail = ComposeMail(Sample());
  const std::string headers = HeaderBlock(mail);
  EXPECT_NE(headers.find("Date: Thu, 01 Jan 2026 00:00:00 +0000\r\n"), std::string::npos);
  EXPECT_NE(headers.find("From: linkwatch@example.com\r\n"), std::string::npos);
  EXPECT_NE(headers.find("To: oncall@example.com, \"Ops Team\" <ops@example.org>\r\n"),
            std::string::npos);
  EXPECT_NE(headers.find("Subject: [FIRING:2] SyncStalled crm\r\n"), std::string::npos);
  EXPECT_NE(headers.find("Message-ID: <0123456789abcdef@example.com>\r\n"), std::string::npos);
  EXPECT_NE(headers.find("MIME-Version: 1.0\r\n"), std::string::npos);
  EXPECT_NE(headers.find("Content-Type: multipart/alternative;\r\n "
                         "boundary=\"=_linkwatch_0123456789abcdef\""),
            std::string::npos);

  const std::string body = mail.substr(mail.find("\r\n\r\n") + 4);
  const std::string boundary = "--=_linkwatch_0123456789abcdef";
  EXPECT_EQ(body.find(boundary + "\r\nContent-Type: text/plain; charset=utf-8\r\n"
                                 "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
                                 "FIRING SyncStalled crm/account\r\n  profile: crm\r\n"),
            0u)
      << body;
  EXPECT_NE(body.find("\r\n" + boundary + "\r\nContent-Type: text/html; charset=utf-8\r\n"),
            std::string::npos);
  EXPECT_EQ(body.substr(body.size() - boundary.size() - 4), boundary + "--\r\n");
}

TEST(MailMessageTest, EveryLineEndsInCrlfIsAsciiAndWithinSmtpLimits) {
  MailMessage m = Sample();
  m.subject = "Ünïcødé " + std::string(200, 'x') + " ✓";
  m.text = std::string(300, 'a') + "\nline two é\r\nthree\rfour";
  m.html = "<p>" + std::string(500, 'b') + "</p>";
  const std::string mail = ComposeMail(m);
  for (size_t i = 0; i < mail.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(mail[i]);
    ASSERT_LT(c, 0x80) << "non-ASCII at " << i;
    if (c == '\n') {
      ASSERT_TRUE(i > 0 && mail[i - 1] == '\r') << "bare LF at " << i;
    }
    if (c == '\r') {
      ASSERT_TRUE(i + 1 < mail.size() && mail[i + 1] == '\n') << "bare CR at " << i;
    }
  }
  for (const auto& line : Lines(mail)) EXPECT_LE(line.size(), 78u) << line;
}

TEST(MailMessageTest, NonAsciiSubjectIsAnEncodedWord) {
  const std::string field = UnstructuredHeader("Subject", "[FIRING:1] Synchronisation bloquée");
  EXPECT_EQ(field.rfind("Subject: =?UTF-8?B?", 0), 0u) << field;
  EXPECT_EQ(DecodeHeader(field), "[FIRING:1] Synchronisation bloquée");
}

TEST(MailMessageTest, LongNonAsciiSubjectSplitsIntoWholeCharacters) {
  std::string subject;
  for (int i = 0; i < 40; ++i) subject += "日本語é ";
  subject += "end";
  const std::string field = UnstructuredHeader("Subject", subject);
  const auto lines = Lines(field);
  ASSERT_GT(lines.size(), 3u);
  for (size_t i = 0; i < lines.size(); ++i) {
    EXPECT_LE(lines[i].size(), 76u) << lines[i];
    if (i > 0) {
      EXPECT_EQ(lines[i][0], ' ') << "a continuation line starts with a space";
    }
    const size_t start = lines[i].find("=?UTF-8?B?") + 10;
    const std::string chunk =
        Base64Decode(lines[i].substr(start, lines[i].find("?=", start) - start));
    EXPECT_TRUE(IsValidUtf8(chunk)) << "word " << i << " cuts a character";
  }
  EXPECT_EQ(DecodeHeader(field), subject);
}

TEST(MailMessageTest, LineBreaksInAValueNeverStartAHeaderOfTheirOwn) {
  MailMessage m = Sample();
  m.subject = "[FIRING:1] SyncStalled crm\r\nBcc: evil@example.net\nX-Evil: 1\r\n\r\nbody";
  m.headers = {{"X-Team", "ops\r\nBcc: evil@example.net"}};
  const std::string headers = HeaderBlock(ComposeMail(m));
  for (const auto& line : Lines(headers)) {
    EXPECT_NE(line.rfind("Bcc:", 0), 0u) << line;
    EXPECT_NE(line.rfind("X-Evil:", 0), 0u) << line;
    EXPECT_FALSE(line.empty()) << "an empty line would end the header block";
  }
  EXPECT_NE(
      headers.find("Subject: [FIRING:1] SyncStalled crm Bcc: evil@example.net X-Evil: 1 body\r\n"),
      std::string::npos)
      << headers;
  EXPECT_NE(headers.find("X-Team: ops Bcc: evil@example.net\r\n"), std::string::npos);
}

TEST(MailMessageTest, LongAsciiSubjectFoldsAtSpacesAndUnfoldsToTheSame) {
  std::string subject = "[FIRING:9]";
  for (int i = 0; i < 30; ++i) subject += " label" + std::to_string(i);
  const std::string field = UnstructuredHeader("Subject", subject);
  const auto lines = Lines(field);
  ASSERT_GT(lines.size(), 1u);
  for (const auto& line : lines) EXPECT_LE(line.size(), 78u);
  EXPECT_EQ(DecodeHeader(field), subject);
}

TEST(MailMessageTest, TextThatLooksLikeAnEncodedWordIsEncoded) {
  const std::string field = UnstructuredHeader("Subject", "=?UTF-8?B?ZXZpbA==?=");
  EXPECT_EQ(DecodeHeader(field), "=?UTF-8?B?ZXZpbA==?=");
}

TEST(MailMessageTest, QuotedPrintableEncodesWhatItMustAndKeepsLinesShort) {
  EXPECT_EQ(QuotedPrintable("a=b"), "a=3Db");
  EXPECT_EQ(QuotedPrintable("trailing \nspace\t"), "trailing=20\r\nspace=09");
  EXPECT_EQ(QuotedPrintable("é"), "=C3=A9");
  EXPECT_EQ(QuotedPrintable("a\r\nb\rc\n"), "a\r\nb\r\nc\r\n");
  EXPECT_EQ(QuotedPrintable(".\n..x"), ".\r\n..x");  // dot-stuffing is the transport's
  const std::string long_line(200, 'x');
  const std::string encoded = QuotedPrintable(long_line + "=");
  std::string decoded;
  for (const auto& line : Lines(encoded)) {
    EXPECT_LE(line.size(), 76u);
    decoded += line.back() == '=' ? line.substr(0, line.size() - 1) : line;
  }
  EXPECT_EQ(decoded, long_line + "=3D");
}

TEST(MailMessageTest, ParsesAddressesWithAndWithoutDisplayNames) {
  auto plain = ParseMailbox(" oncall@example.com ");
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->address, "oncall@example.com");
  EXPECT_EQ(plain->display_name, "");
  EXPECT_EQ(plain->Domain(), "example.com");
  auto named = ParseMailbox("\"On Call\" <oncall@example.com>");
  ASSERT_TRUE(named);
  EXPECT_EQ(named->display_name, "On Call");
  EXPECT_EQ(named->address, "oncall@example.com");
  for (const char* bad : {"", "oncall", "@example.com", "oncall@", "a@b@c", "on call@example.com",
                          "a@example.com\r\nBcc: x@y", "a@example.com, b@example.com",
                          "Name <a@example.com", "<a@example.com>>"}) {
    EXPECT_FALSE(ParseMailbox(bad)) << bad;
  }
}

TEST(MailMessageTest, NonAsciiDisplayNameIsEncoded) {
  MailMessage m = Sample();
  m.from = *ParseMailbox("Équipe Ops <ops@example.com>");
  const std::string headers = HeaderBlock(ComposeMail(m));
  EXPECT_NE(headers.find("From: =?UTF-8?B?"), std::string::npos) << headers;
  EXPECT_NE(headers.find("?= <ops@example.com>\r\n"), std::string::npos) << headers;
}

}  // namespace mail_message_test
}  // namespace
}  // namespace linkwatch::notifiers
