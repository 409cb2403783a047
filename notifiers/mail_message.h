// MailMessage: the RFC 5322 / MIME message the email integration sends (and a
// later Microsoft Graph transport would send as MIME too): Date, From, To,
// Subject, Message-ID, MIME-Version, then multipart/alternative with a
// text/plain and a text/html part, both UTF-8 in quoted-printable, every line
// within SMTP's limits, CRLF line ends. Dot-stuffing is the transport's
// (libcurl's) job, not this one's.
//
// Header values never make new header lines: line breaks and other control
// characters in a value (a label value, a rendered subject) become spaces
// before encoding; non-ASCII text becomes RFC 2047 encoded-words.
//
// Pure functions over values; thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "agent/core/clock.h"

namespace linkwatch::notifiers {

// "oncall@example.com" or "On call <oncall@example.com>".
struct Mailbox {
  std::string display_name;  // may be empty; any UTF-8
  std::string address;       // local@domain, printable ASCII, no spaces

  std::string Domain() const;  // the part after '@'
};

// Nullopt when `text` is not a single address in one of the two forms
// (no groups, no comments, no quoted local parts, no line breaks).
std::optional<Mailbox> ParseMailbox(std::string_view text);

struct MailMessage {
  Mailbox from;
  std::vector<Mailbox> to;
  std::string subject;  // UTF-8; line breaks allowed (they become spaces)
  std::string text;     // UTF-8; any line ends
  std::string html;     // UTF-8; any line ends
  // Extra headers (names checked by the caller: printable ASCII, no colon);
  // values are unstructured text like the subject.
  std::vector<std::pair<std::string, std::string>> headers;
  TimePoint date;
  std::string id;  // Message-ID's left part; "<id@from-domain>" is sent
};

// The whole message, ready for DATA.
std::string ComposeMail(const MailMessage& m);

// "Subject: [FIRING:1] x\r\n": one header field of unstructured text,
// sanitized, encoded (RFC 2047, base64 UTF-8) when not plain ASCII, folded so
// that no line exceeds 78 characters where spaces allow (never 998; 76 with
// encoded-words).
std::string UnstructuredHeader(std::string_view name, std::string_view value);

// Quoted-printable (RFC 2045 section 6.7) with CRLF hard line breaks for the
// text's line ends (LF, CRLF or CR) and encoded lines of at most 76
// characters.
std::string QuotedPrintable(std::string_view text);

// "Thu, 03 Dec 2026 07:25:00 +0000" (RFC 5322 section 3.3), always UTC.
std::string FormatMailDate(TimePoint t);

}  // namespace linkwatch::notifiers
