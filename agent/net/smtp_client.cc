#include "agent/net/smtp_client.h"

#include <curl/curl.h>

#include <algorithm>
#include <cstring>
#include <deque>

#include "agent/core/text.h"
#include "agent/net/curl_init.h"

namespace linkwatch::net {
namespace {

// What one transfer reads from and writes to; lives on Send's stack.
struct Transfer {
  const std::string* message = nullptr;
  size_t sent = 0;
  std::string partial;              // a server reply line not yet complete
  std::deque<std::string> replies;  // the last complete reply lines

  static constexpr size_t kKeep = 16;
  // The last reply line with `code` (a failure is followed by QUIT's 221).
  std::string ReplyWithCode(long code) const {
    const std::string prefix = std::to_string(code);
    for (auto it = replies.rbegin(); it != replies.rend(); ++it) {
      if (it->rfind(prefix, 0) == 0) return *it;
    }
    return "";
  }
};

size_t ReadMessage(char* buffer, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const size_t len = std::min(size * n, t->message->size() - t->sent);
  std::memcpy(buffer, t->message->data() + t->sent, len);
  t->sent += len;
  return len;
}

// Keeps the server's last reply line for the error detail. Only what the
// server said (CURLINFO_HEADER_IN) is looked at: what the client sends holds
// the credentials.
int KeepServerReply(CURL*, curl_infotype type, char* data, size_t size, void* user) {
  if (type != CURLINFO_HEADER_IN) return 0;
  auto* t = static_cast<Transfer*>(user);
  t->partial.append(data, size);
  size_t end;
  while ((end = t->partial.find('\n')) != std::string::npos) {
    std::string line(StripAsciiWhitespace(std::string_view(t->partial).substr(0, end)));
    t->partial.erase(0, end + 1);
    if (line.empty()) continue;
    t->replies.push_back(std::move(line));
    if (t->replies.size() > Transfer::kKeep) t->replies.pop_front();
  }
  return 0;
}

std::string Bracketed(const std::string& address) { return "<" + address + ">"; }

std::string Url(CURL* c, const SmtpServer& server) {
  const bool ipv6 = server.host.find(':') != std::string::npos;
  const std::string host = ipv6 ? "[" + server.host + "]" : server.host;
  // The URL's path is the EHLO name.
  char* hello = curl_easy_escape(c, server.hello.data(), static_cast<int>(server.hello.size()));
  std::string url = std::string(server.tls == SmtpTls::kImplicit ? "smtps://" : "smtp://") + host +
                    ":" + std::to_string(server.port) + "/" + (hello != nullptr ? hello : "");
  curl_free(hello);
  return url;
}

SmtpResult::Error ErrorOf(CURLcode rc, long reply_code) {
  switch (rc) {
    case CURLE_OK:
      return SmtpResult::Error::kNone;
    case CURLE_OPERATION_TIMEDOUT:
      return SmtpResult::Error::kTimeout;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
      return SmtpResult::Error::kConnect;
    case CURLE_USE_SSL_FAILED:  // "STARTTLS not supported." or "STARTTLS denied, code 454"
      return SmtpResult::Error::kStartTlsMissing;
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
      return SmtpResult::Error::kCertificate;
    case CURLE_SSL_CONNECT_ERROR:
      return SmtpResult::Error::kTls;
    case CURLE_LOGIN_DENIED:
      return SmtpResult::Error::kAuth;
    default:
      return reply_code >= 400 ? SmtpResult::Error::kRejected : SmtpResult::Error::kTransport;
  }
}

}  // namespace

struct SmtpClient::Impl {
  CURL* curl = nullptr;
};

SmtpClient::SmtpClient() : impl_(std::make_unique<Impl>()) {
  EnsureCurlInitialized();
  impl_->curl = curl_easy_init();
}

SmtpClient::~SmtpClient() {
  if (impl_->curl != nullptr) curl_easy_cleanup(impl_->curl);
}

SmtpResult SmtpClient::Send(const SmtpServer& server, const OutboundMail& mail) {
  SmtpResult result;
  CURL* c = impl_->curl;
  if (c == nullptr) {
    result.error = SmtpResult::Error::kTransport;
    result.message = "curl_easy_init failed";
    return result;
  }
  curl_easy_reset(c);
  Transfer transfer;
  transfer.message = &mail.message;
  curl_slist* recipients = nullptr;
  for (const auto& to : mail.to) recipients = curl_slist_append(recipients, Bracketed(to).c_str());
  const std::string url = Url(c, server);
  const std::string from = Bracketed(mail.from);
  char error[CURL_ERROR_SIZE] = {0};

  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(server.timeout.count()));
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(server.timeout.count()));
  // One session per message: no idle connection for the server to drop.
  curl_easy_setopt(c, CURLOPT_FORBID_REUSE, 1L);
  curl_easy_setopt(
      c, CURLOPT_USE_SSL,
      static_cast<long>(server.tls == SmtpTls::kNone ? CURLUSESSL_NONE : CURLUSESSL_ALL));
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, server.insecure_skip_verify ? 0L : 1L);
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, server.insecure_skip_verify ? 0L : 2L);
  if (!server.ca_file.empty()) curl_easy_setopt(c, CURLOPT_CAINFO, server.ca_file.c_str());
  if (!server.username.empty()) {
    curl_easy_setopt(c, CURLOPT_USERNAME, server.username.c_str());
    curl_easy_setopt(c, CURLOPT_PASSWORD, server.password.c_str());
  }
  curl_easy_setopt(c, CURLOPT_MAIL_FROM, from.c_str());
  curl_easy_setopt(c, CURLOPT_MAIL_RCPT, recipients);
  curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
  curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(mail.message.size()));
  curl_easy_setopt(c, CURLOPT_READFUNCTION, &ReadMessage);
  curl_easy_setopt(c, CURLOPT_READDATA, &transfer);
  // The debug callback only sees data with VERBOSE on; it prints nothing.
  curl_easy_setopt(c, CURLOPT_VERBOSE, 1L);
  curl_easy_setopt(c, CURLOPT_DEBUGFUNCTION, &KeepServerReply);
  curl_easy_setopt(c, CURLOPT_DEBUGDATA, &transfer);

  const CURLcode rc = curl_easy_perform(c);
  curl_slist_free_all(recipients);
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &result.reply_code);
  if (result.reply_code != 0) result.reply = transfer.ReplyWithCode(result.reply_code);
  result.error = ErrorOf(rc, result.reply_code);
  if (rc != CURLE_OK && error[0] != '\0') {
    result.message = error;
  } else if (rc != CURLE_OK && result.reply_code >= 400) {
    // curl says "Weird server reply" for a refusal after DATA.
    result.message = "refused with " + std::to_string(result.reply_code);
  } else if (rc != CURLE_OK) {
    result.message = curl_easy_strerror(rc);
  }
  // Nothing refers to the transfer once perform returned.
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, nullptr);
  return result;
}

}  // namespace linkwatch::net
