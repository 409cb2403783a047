// SmtpClient: a small blocking SMTP client over libcurl, the one SMTP
// transport of linkwatch (the email integration; a later Microsoft Graph
// transport would sit beside it). It sends one complete RFC 5322 message in
// one SMTP transaction (MAIL FROM, RCPT TO for every recipient, DATA) and
// reports what happened as a value: delivered, or the curl error with the
// last SMTP reply code and text. What an answer means for a notification is
// the caller's business (notifiers/email.cc classifies it).
//
// TLS is never optional by accident: kStartTls requires the server to offer
// STARTTLS and fails before anything else (no AUTH, no MAIL) is sent when it
// does not; kImplicit speaks TLS from the first byte (smtps); kNone is plain
// text. Certificates are verified unless insecure_skip_verify. AUTH (PLAIN,
// LOGIN, whatever libcurl and the server agree on) is used when a username is
// set; libcurl only authenticates after TLS is up when TLS is asked for.
// Dot-stuffing of the message is libcurl's.
//
// One SmtpClient owns one curl handle; every Send opens and closes its own
// connection (QUIT). Not thread-safe: each outbox worker owns its notifier and
// so its client. Error texts never contain the password.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "agent/core/clock.h"

namespace linkwatch::net {

enum class SmtpTls { kStartTls, kImplicit, kNone };

struct SmtpServer {
  std::string host;  // name or address; IPv6 without brackets
  int port = 587;
  SmtpTls tls = SmtpTls::kStartTls;
  bool insecure_skip_verify = false;
  std::string ca_file;   // PEM; empty: the system's trust store
  std::string hello;     // EHLO name
  std::string username;  // empty: no AUTH
  std::string password;
  Millis timeout{10000};  // the whole transaction, connect included
};

struct OutboundMail {
  std::string from;             // envelope sender, a bare address
  std::vector<std::string> to;  // envelope recipients, bare addresses
  std::string message;          // headers and body, CRLF line ends, not dot-stuffed
};

struct SmtpResult {
  enum class Error {
    kNone,
    kTimeout,
    kConnect,          // could not resolve or connect
    kStartTlsMissing,  // kStartTls and the server does not offer STARTTLS
    kCertificate,      // the server's certificate did not verify (or ca_file is unusable)
    kTls,              // TLS handshake failed otherwise
    kAuth,             // the server refused the credentials
    kRejected,         // the server refused a command (reply_code says which)
    kTransport,        // anything else on the way
  };
  Error error = Error::kNone;
  long reply_code = 0;  // the last SMTP reply code (0 when none came)
  std::string reply;    // the last SMTP reply line (no secrets: the server's words)
  std::string message;  // curl's description of the failure

  bool ok() const { return error == Error::kNone; }
};

class SmtpClient {
 public:
  SmtpClient();
  ~SmtpClient();
  SmtpClient(const SmtpClient&) = delete;
  SmtpClient& operator=(const SmtpClient&) = delete;

  SmtpResult Send(const SmtpServer& server, const OutboundMail& mail);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace linkwatch::net
