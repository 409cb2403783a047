#include "notifiers/mail_message.h"

#include <ctime>

#include "agent/core/crypto.h"
#include "agent/core/text.h"

namespace linkwatch::notifiers {
namespace {

// RFC 5322 section 2.1.1: lines SHOULD stay within 78 characters; RFC 2047
// section 2: a line holding encoded-words within 76.
constexpr size_t kFoldAt = 78;
constexpr size_t kEncodedLineMax = 76;
constexpr size_t kLineMax = 998;
constexpr std::string_view kWordStart = "=?UTF-8?B?";
constexpr std::string_view kWordEnd = "?=";
constexpr std::string_view kCrlf = "\r\n";

bool IsPrintableAscii(unsigned char c) { return c >= 0x20 && c < 0x7f; }

// Characters of an address as linkwatch accepts it: printable ASCII without
// spaces and the specials that would need quoting.
bool IsAddressChar(unsigned char c) {
  return c > 0x20 && c < 0x7f && std::string_view("<>()[],;:\\\"@").find(c) == std::string::npos;
}

bool IsAddress(std::string_view a) {
  const size_t at = a.find('@');
  if (at == std::string_view::npos || at == 0 || at + 1 == a.size()) return false;
  if (a.find('@', at + 1) != std::string_view::npos) return false;
  for (unsigned char c : a) {
    if (c != '@' && !IsAddressChar(c)) return false;
  }
  return true;
}

// Every run of control characters (CR, LF, TAB, ...) becomes one space, so a
// value can never start a header line of its own; ends are trimmed.
std::string SanitizeHeaderText(std::string_view value) {
  std::string out;
  bool in_run = false;
  for (unsigned char c : value) {
    if (c < 0x20 || c == 0x7f) {
      if (!in_run) out += ' ';
      in_run = true;
      continue;
    }
    in_run = false;
    out += static_cast<char>(c);
  }
  return std::string(StripAsciiWhitespace(out));
}

std::vector<std::string_view> SplitSpaces(std::string_view s) {
  std::vector<std::string_view> words;
  size_t start = 0;
  for (size_t i = 0; i <= s.size(); ++i) {
    if (i == s.size() || s[i] == ' ') {
      words.push_back(s.substr(start, i - start));
      start = i + 1;
    }
  }
  return words;
}

// Plain ASCII that folds at spaces within the hard limit, and that no reader
// could take for an encoded-word.
bool FoldsAsIs(std::string_view name, std::string_view value) {
  for (unsigned char c : value) {
    if (!IsPrintableAscii(c)) return false;
  }
  if (value.find("=?") != std::string_view::npos) return false;
  for (std::string_view word : SplitSpaces(value)) {
    if (name.size() + 2 + word.size() > kLineMax) return false;
  }
  return true;
}

std::string FoldWords(std::string_view name, std::string_view value) {
  std::string out;
  std::string line = std::string(name) + ":";
  bool first = true;
  for (std::string_view word : SplitSpaces(value)) {
    if (!first && line.size() + 1 + word.size() > kFoldAt) {
      out += line + std::string(kCrlf);
      line.clear();
    }
    line += ' ';
    line += word;
    first = false;
  }
  return out + line + std::string(kCrlf);
}

// The longest prefix of `s` from `start` of at most `max_bytes` that does not
// cut a UTF-8 sequence (at least one byte, so invalid input still moves on).
size_t Utf8ChunkEnd(std::string_view s, size_t start, size_t max_bytes) {
  size_t end = std::min(s.size(), start + max_bytes);
  while (end > start + 1 && end < s.size() && (static_cast<unsigned char>(s[end]) & 0xC0) == 0x80) {
    --end;
  }
  return end;
}

std::string EncodedWord(std::string_view bytes) {
  return std::string(kWordStart) + Base64Encode(bytes) + std::string(kWordEnd);
}

// Bytes that fit in one encoded-word on a line that already holds `used`
// characters (base64: 4 characters per 3 bytes).
size_t WordBytes(size_t used) {
  const size_t overhead = used + kWordStart.size() + kWordEnd.size();
  if (overhead >= kEncodedLineMax) return 0;
  return (kEncodedLineMax - overhead) / 4 * 3;
}

std::string EncodeWords(std::string_view name, std::string_view value) {
  std::string out = std::string(name) + ":";
  size_t room = WordBytes(name.size() + 2);
  if (room < 4) {  // a long name: start on the next line
    out += std::string(kCrlf);
    room = WordBytes(1);
  }
  size_t pos = 0;
  while (pos < value.size()) {
    const size_t end = Utf8ChunkEnd(value, pos, room);
    if (pos > 0) out += std::string(kCrlf);
    out += ' ' + EncodedWord(value.substr(pos, end - pos));
    pos = end;
    room = WordBytes(1);
  }
  return out + std::string(kCrlf);
}

std::string QuotedString(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

std::string MailboxText(const Mailbox& m) {
  if (m.display_name.empty()) return m.address;
  const std::string name = SanitizeHeaderText(m.display_name);
  bool ascii = name.find("=?") == std::string::npos;
  for (unsigned char c : name) ascii = ascii && IsPrintableAscii(c);
  std::string phrase;
  if (ascii) {
    phrase = QuotedString(name);
  } else {
    for (size_t pos = 0; pos < name.size();) {
      const size_t end = Utf8ChunkEnd(name, pos, WordBytes(1));
      if (pos > 0) phrase += ' ';
      phrase += EncodedWord(std::string_view(name).substr(pos, end - pos));
      pos = end;
    }
  }
  return phrase + " <" + m.address + ">";
}

// "To: a@example.com, b@example.com,\r\n c@example.com\r\n".
std::string AddressHeader(std::string_view name, const std::vector<Mailbox>& boxes) {
  std::string out;
  std::string line = std::string(name) + ":";
  for (size_t i = 0; i < boxes.size(); ++i) {
    const std::string item = MailboxText(boxes[i]) + (i + 1 < boxes.size() ? "," : "");
    if (i > 0 && line.size() + 1 + item.size() > kFoldAt) {
      out += line + std::string(kCrlf);
      line.clear();
    }
    line += ' ' + item;
  }
  return out + line + std::string(kCrlf);
}

std::string MimePart(std::string_view type, std::string_view body) {
  return "Content-Type: " + std::string(type) +
         "; charset=utf-8\r\n"
         "Content-Transfer-Encoding: quoted-printable\r\n"
         "\r\n" +
         QuotedPrintable(body);
}

}  // namespace

std::string Mailbox::Domain() const { return address.substr(address.find('@') + 1); }

std::optional<Mailbox> ParseMailbox(std::string_view text) {
  text = StripAsciiWhitespace(text);
  for (unsigned char c : text) {
    if (c < 0x20 || c == 0x7f) return std::nullopt;
  }
  Mailbox m;
  if (!text.empty() && text.back() == '>') {
    const size_t open = text.rfind('<');
    if (open == std::string_view::npos) return std::nullopt;
    m.address = std::string(text.substr(open + 1, text.size() - open - 2));
    std::string_view name = StripAsciiWhitespace(text.substr(0, open));
    if (name.size() >= 2 && name.front() == '"' && name.back() == '"') {
      name = name.substr(1, name.size() - 2);
    }
    if (name.find_first_of("<>\"") != std::string_view::npos) return std::nullopt;
    m.display_name = std::string(name);
  } else {
    m.address = std::string(text);
  }
  if (!IsAddress(m.address)) return std::nullopt;
  return m;
}

std::string UnstructuredHeader(std::string_view name, std::string_view value) {
  const std::string clean = SanitizeHeaderText(value);
  return FoldsAsIs(name, clean) ? FoldWords(name, clean) : EncodeWords(name, clean);
}

std::string QuotedPrintable(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  size_t column = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c == '\r' || c == '\n') {
      if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
      out += kCrlf;
      column = 0;
      continue;
    }
    const bool line_end = i + 1 == text.size() || text[i + 1] == '\r' || text[i + 1] == '\n';
    const bool literal =
        (c >= 33 && c <= 126 && c != '=') || ((c == ' ' || c == '\t') && !line_end);
    // Room for the token and a soft line break ("=") within 76 characters.
    const size_t width = literal ? 1 : 3;
    if (column + width > kEncodedLineMax - 1) {
      out += "=\r\n";
      column = 0;
    }
    if (literal) {
      out += static_cast<char>(c);
    } else {
      out += '=';
      out += kHex[c >> 4];
      out += kHex[c & 0xF];
    }
    column += width;
  }
  return out;
}

std::string FormatMailDate(TimePoint t) {
  static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  const std::time_t secs = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[40];
  std::snprintf(buf, sizeof buf, "%s, %02d %s %04d %02d:%02d:%02d +0000", kDays[tm.tm_wday],
                tm.tm_mday, kMonths[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                tm.tm_sec);
  return buf;
}

std::string ComposeMail(const MailMessage& m) {
  const std::string boundary = "=_linkwatch_" + (m.id.empty() ? std::string("part") : m.id);
  std::string out;
  out += "Date: " + FormatMailDate(m.date) + std::string(kCrlf);
  out += AddressHeader("From", {m.from});
  out += AddressHeader("To", m.to);
  out += UnstructuredHeader("Subject", m.subject);
  out += "Message-ID: <" + m.id + "@" + m.from.Domain() + ">" + std::string(kCrlf);
  out += "MIME-Version: 1.0\r\n";
  // RFC 3834: no vacation auto-replies to an alert.
  out += "Auto-Submitted: auto-generated\r\n";
  for (const auto& [name, value] : m.headers) out += UnstructuredHeader(name, value);
  // "=_" never occurs in quoted-printable text: the boundary cannot collide.
  out += "Content-Type: multipart/alternative;\r\n boundary=\"" + boundary + "\"\r\n";
  out += kCrlf;
  out += "--" + boundary + std::string(kCrlf) + MimePart("text/plain", m.text);
  out += "\r\n--" + boundary + std::string(kCrlf) + MimePart("text/html", m.html);
  out += "\r\n--" + boundary + "--\r\n";
  return out;
}

}  // namespace linkwatch::notifiers
