// email: one mail per notification (notifications.md, "email"),
// multipart/alternative with a text and an HTML part, to all recipients at
// once. This file builds the message (notifiers/mail_message.h) and hands
// it to one of two transports, which classify their answers:
// * `transport: smtp` (default): net::SmtpClient (libcurl), one SMTP
//   transaction;
// * `transport: graph`: Microsoft Graph's sendMail for the `from` mailbox
//   (POST <graph_url>/v1.0/users/<from>/sendMail), the same MIME message
//   base64-encoded (Graph's MIME form, so text and HTML parts stay as over
//   SMTP), signed in as an Entra ID app registration (tenant_id, client_id,
//   client_secret, authority; net::EntraToken) that has the Mail.Send
//   application permission. Answers as every HTTP integration
//   (notifiers/http_answer.h): 202 delivered, 429 and 5xx retried (Retry-After
//   honoured), 401/403 authError; a token that cannot be had is retried.
//
// SMTP keys: smarthost (host:port, required), from (required), to (list or one
// address, required), username, password (secret), tls (starttls | implicit
// | none; default starttls), insecure_skip_verify (default false), ca_file
// (PEM, relative to the config folder), hello (EHLO name; default this
// host's name), headers (extra header fields), templates subject, text, html
// (notifiers/message.h), timeout (default 10s). Graph keys: from, to,
// headers, templates, timeout as above; tenant_id, client_id, client_secret
// (required), authority (default https://login.microsoftonline.com),
// graph_url (default https://graph.microsoft.com; tests point it at a fake).
//
// Answers: delivered on 250 after DATA; connection errors retry (other),
// timeouts retry (timeout), SMTP 4xx retry (serverError); 530/534/535 and
// refused credentials are permanent authError; other 5xx permanent
// clientError; a server without STARTTLS under tls: starttls and a
// certificate that does not verify are permanent clientError (nothing was
// sent); STARTTLS refused with a 4xx is retried. Details never hold the
// password.
#include <spdlog/spdlog.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <fstream>

#include "agent/core/crypto.h"
#include "agent/core/problem.h"
#include "agent/core/secret.h"
#include "agent/core/text.h"
#include "agent/core/yaml_util.h"
#include "agent/net/entra_settings.h"
#include "agent/net/entra_token.h"
#include "agent/net/http_client.h"
#include "agent/net/smtp_client.h"
#include "notifiers/http_answer.h"
#include "notifiers/mail_message.h"
#include "notifiers/message.h"
#include "notifiers/registry.h"

namespace linkwatch::notifiers {
namespace {

const std::vector<MessageField>& EmailFields() {
  static const std::vector<MessageField> kFields{
      {"subject", kDefaultTitle, false},
      {"text", kDefaultText, false},
      {"html", kDefaultHtml, true},
  };
  return kFields;
}

// Header fields linkwatch writes itself; `headers` may not replace them.
const std::vector<std::string>& OwnHeaders() {
  static const std::vector<std::string> kOwn{
      "Date",          "From",       "To",           "Cc",           "Bcc",
      "Subject",       "Message-ID", "MIME-Version", "Content-Type", "Content-Transfer-Encoding",
      "Auto-Submitted"};
  return kOwn;
}

bool IsLoopback(std::string_view host) {
  return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

std::string TlsName(net::SmtpTls tls) {
  switch (tls) {
    case net::SmtpTls::kStartTls:
      return "starttls";
    case net::SmtpTls::kImplicit:
      return "implicit";
    case net::SmtpTls::kNone:
      return "none";
  }
  return "";
}

std::string DefaultHello() {
  char name[256] = {0};
  if (gethostname(name, sizeof name - 1) == 0 && name[0] != '\0') return name;
  return "localhost";
}

struct GraphSettings {
  net::EntraSettings entra;
  std::string graph_url = "https://graph.microsoft.com";
};

struct EmailConfig {
  bool graph = false;  // transport: graph
  GraphSettings graph_settings;
  net::SmtpServer server;
  Mailbox from;
  std::vector<Mailbox> to;
  std::vector<std::pair<std::string, std::string>> headers;
};

// Removes every occurrence of the secret from text a server or curl wrote.
std::string RedactSecret(std::string text, const std::string& secret) {
  if (secret.empty()) return text;
  for (size_t pos; (pos = text.find(secret)) != std::string::npos;) {
    text.replace(pos, secret.size(), "<redacted>");
  }
  return text;
}

// "curl's words (server: 550 5.1.1 no such user)"; the server's reply only
// when it refused something.
std::string DescribeSmtp(const net::SmtpResult& r) {
  std::string out = r.message;
  if (r.reply_code >= 400 && !r.reply.empty()) out += " (server: " + r.reply + ")";
  return out;
}

SendResult ClassifySmtp(const net::SmtpResult& r, const net::SmtpServer& server) {
  using E = net::SmtpResult::Error;
  const std::string where = server.host + ":" + std::to_string(server.port);
  const long code = r.reply_code;
  switch (r.error) {
    case E::kNone:
      return SendResult::Ok();
    case E::kTimeout:
      return SendResult::Retry("timeout", "SMTP " + where + " timed out: " + DescribeSmtp(r));
    case E::kConnect:
    case E::kTls:
    case E::kTransport:
      return SendResult::Retry("other", "SMTP " + where + ": " + DescribeSmtp(r));
    case E::kStartTlsMissing:
      if (code >= 400 && code < 500) {  // offered, but "454 TLS not available" for now
        return SendResult::Retry("serverError", "SMTP " + where + " refused STARTTLS for now (" +
                                                    DescribeSmtp(r) + "); nothing was sent");
      }
      return SendResult::Permanent(
          "clientError", "SMTP " + where +
                             " does not offer STARTTLS, which tls: starttls requires (" +
                             DescribeSmtp(r) +
                             "); nothing was sent: no AUTH, no message. Use tls: implicit for a "
                             "port-465 server, tls: none only for a local test server");
    case E::kCertificate:
      return SendResult::Permanent(
          "clientError", "SMTP " + where + ": the server's TLS certificate did not verify (" +
                             DescribeSmtp(r) +
                             "); nothing was sent. Set ca_file to the CA that signed it");
    case E::kAuth:
    case E::kRejected:
      break;
  }
  if (code >= 400 && code < 500) {
    return SendResult::Retry("serverError", "SMTP " + where + " deferred: " + DescribeSmtp(r));
  }
  if (r.error == E::kAuth || code == 530 || code == 534 || code == 535) {
    const std::string who = server.username.empty()
                                ? " requires authentication (set username and password)"
                                : " refused authentication as \"" + server.username + "\"";
    return SendResult::Permanent("authError", "SMTP " + where + who + ": " + DescribeSmtp(r));
  }
  return SendResult::Permanent("clientError", "SMTP " + where + " rejected: " + DescribeSmtp(r));
}

// Where a composed mail goes: an SMTP server or Microsoft Graph.
class MailTransport {
 public:
  virtual ~MailTransport() = default;
  virtual SendResult Send(const net::OutboundMail& mail) = 0;
};

class SmtpTransport final : public MailTransport {
 public:
  explicit SmtpTransport(net::SmtpServer server) : server_(std::move(server)) {}
  SendResult Send(const net::OutboundMail& mail) override {
    SendResult result = ClassifySmtp(client_.Send(server_, mail), server_);
    result.detail = RedactSecret(std::move(result.detail), server_.password);
    return result;
  }

 private:
  net::SmtpServer server_;
  net::SmtpClient client_;
};

class GraphTransport final : public MailTransport {
 public:
  GraphTransport(GraphSettings settings, Millis timeout, const Clock& clock)
      : settings_(std::move(settings)), timeout_(timeout), clock_(clock) {
    while (!settings_.graph_url.empty() && settings_.graph_url.back() == '/') {
      settings_.graph_url.pop_back();
    }
    settings_.entra.scope = settings_.graph_url + "/.default";
    settings_.entra.timeout = timeout_;
    token_ = std::make_unique<net::EntraToken>(settings_.entra, client_, clock_);
  }

  SendResult Send(const net::OutboundMail& mail) override {
    net::OutboundRequest req;
    req.method = "POST";
    req.url = settings_.graph_url + "/v1.0/users/" + PercentEncode(mail.from) + "/sendMail";
    req.headers = {{"Content-Type", "text/plain"}};
    req.body = Base64Encode(mail.message);
    req.timeout = timeout_;
    auto answer = token_->SendAuthorized(std::move(req));
    // A refused or unreachable token endpoint may be an outage as well as a
    // wrong secret: retried, never dropped (the outbox's max_age bounds it).
    if (!answer.ok()) return SendResult::Retry("authError", "Graph: " + answer.message());
    SendResult result = ClassifyHttpResponse(*answer, clock_);
    if (!result.ok()) result.detail = "Graph sendMail: " + result.detail;
    return result;
  }

 private:
  GraphSettings settings_;
  Millis timeout_;
  const Clock& clock_;
  net::HttpClient client_;
  std::unique_ptr<net::EntraToken> token_;
};

class EmailNotifier final : public Notifier {
 public:
  EmailNotifier(EmailConfig config, MessageTemplates templates, const Clock& clock)
      : config_(std::move(config)), templates_(std::move(templates)), clock_(clock) {
    if (config_.graph) {
      transport_ =
          std::make_unique<GraphTransport>(config_.graph_settings, config_.server.timeout, clock_);
    } else {
      transport_ = std::make_unique<SmtpTransport>(config_.server);
    }
  }

  const std::string& integration() const override {
    static const std::string kName = "email";
    return kName;
  }

  SendResult Send(const Notification& n) override {
    const RenderedMessage rendered = templates_.Render(n);
    MailMessage m;
    m.from = config_.from;
    m.to = config_.to;
    m.subject = rendered["subject"];
    m.text = rendered["text"];
    m.html = rendered["html"];
    m.headers = config_.headers;
    m.date = clock_.Now();
    // The same notification keeps its Message-ID across retries, so a
    // duplicate after a crash can be recognised.
    m.id = HexEncode(Sha256(ToPayload(n))).substr(0, 32);
    net::OutboundMail mail;
    mail.from = config_.from.address;
    for (const auto& to : config_.to) mail.to.push_back(to.address);
    mail.message = ComposeMail(m);
    SendResult result = transport_->Send(mail);
    if (rendered.template_error) result.template_error = rendered.error;
    return result;
  }

 private:
  EmailConfig config_;
  MessageTemplates templates_;
  const Clock& clock_;
  std::unique_ptr<MailTransport> transport_;
};

// --- configuration -------------------------------------------------------

struct EmailLoader {
  const YAML::Node& spec;
  const ReceiverContext& ctx;
  std::string what;
  Problems& p;

  std::optional<std::string> String(const char* key) {
    if (!spec[key]) return std::nullopt;
    return GetString(spec[key], p, what + " " + key);
  }

  void Smarthost(net::SmtpServer& server) {
    const YAML::Node& node = spec["smarthost"];
    if (!node) return p.Add(spec, what + ": smarthost is required (host:port)");
    auto text = GetString(node, p, what + " smarthost");
    if (!text) return;
    const size_t colon = text->rfind(':');
    std::string host = colon == std::string::npos ? "" : text->substr(0, colon);
    if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
      host = host.substr(1, host.size() - 2);
    }
    int port = 0;
    if (colon != std::string::npos) {
      const std::string digits = text->substr(colon + 1);
      if (!digits.empty() && digits.size() <= 5 &&
          digits.find_first_not_of("0123456789") == std::string::npos) {
        port = std::stoi(digits);
      }
    }
    const bool bad_host = host.empty() || host.find_first_of(" /@\t\r\n[]") != std::string::npos;
    if (bad_host || port < 1 || port > 65535) {
      return p.Add(node, what + ": smarthost must be host:port, e.g. smtp.example.com:587, not \"" +
                             *text + "\"");
    }
    server.host = host;
    server.port = port;
  }

  std::optional<Mailbox> Address(const YAML::Node& node, const std::string& key) {
    auto text = GetString(node, p, what + " " + key);
    if (!text) return std::nullopt;
    auto box = ParseMailbox(*text);
    if (!box) {
      p.Add(node, what + ": " + key + " \"" + *text +
                      "\" is not an address (user@example.com or Name <user@example.com>)");
    }
    return box;
  }

  void Addresses(EmailConfig& c) {
    if (!spec["from"]) {
      p.Add(spec, what + ": from is required");
    } else if (auto box = Address(spec["from"], "from")) {
      c.from = *box;
    }
    const YAML::Node& to = spec["to"];
    if (!to) return p.Add(spec, what + ": to is required (a list of addresses)");
    if (to.IsScalar()) {
      if (auto box = Address(to, "to")) c.to.push_back(*box);
      return;
    }
    if (!to.IsSequence() || to.size() == 0) {
      return p.Add(to, what + ": to must be one address or a list of at least one");
    }
    for (const auto& item : to) {
      if (auto box = Address(item, "to")) c.to.push_back(*box);
    }
  }

  void Tls(net::SmtpServer& server) {
    if (auto tls = String("tls")) {
      bool found = false;
      for (auto t : {net::SmtpTls::kStartTls, net::SmtpTls::kImplicit, net::SmtpTls::kNone}) {
        if (*tls == TlsName(t)) {
          server.tls = t;
          found = true;
        }
      }
      if (!found) {
        p.Add(spec["tls"], what + ": tls must be starttls, implicit or none, not \"" + *tls + "\"");
      }
    }
    if (spec["insecure_skip_verify"]) {
      if (auto v = GetBool(spec["insecure_skip_verify"], p, what + " insecure_skip_verify")) {
        server.insecure_skip_verify = *v;
      }
    }
    if (auto ca = String("ca_file")) {
      std::filesystem::path path(*ca);
      if (path.is_relative()) path = std::filesystem::path(ctx.base_dir) / path;
      if (!std::ifstream(path).good()) {
        p.Add(spec["ca_file"], what + ": ca_file " + path.string() + " cannot be read");
      }
      server.ca_file = path.string();
    }
  }

  void Credentials(net::SmtpServer& server) {
    if (auto user = String("username")) server.username = *user;
    if (spec["password"]) {
      server.password =
          Secret::FromYaml(spec["password"], ctx.base_dir, p, what + " password").Reveal();
    }
    if (!server.password.empty() && server.username.empty()) {
      p.Add(spec["password"], what + ": password needs a username");
    }
    if (spec["username"] && !spec["password"]) {
      p.Add(spec["username"], what + ": username needs a password");
    }
    // AUTH in clear only to a test server on this machine, and only because
    // the user chose tls: none.
    if (!server.username.empty() && server.tls == net::SmtpTls::kNone && !server.host.empty() &&
        !IsLoopback(server.host)) {
      p.Add(spec["password"] ? spec["password"] : spec["username"],
            what + ": username and password would cross the network in clear text to " +
                server.host + " (tls: none); use tls: starttls or implicit");
    }
  }

  void Hello(net::SmtpServer& server) {
    server.hello = DefaultHello();
    if (auto hello = String("hello")) {
      if (hello->empty() || hello->find_first_of(" \t\r\n<>") != std::string::npos) {
        p.Add(spec["hello"], what + ": hello must be one host name, not \"" + *hello + "\"");
      } else {
        server.hello = *hello;
      }
    }
  }

  void Headers(EmailConfig& c) {
    for (auto& [name, value] : ctx.Headers(spec, "email", OwnHeaders())) {
      c.headers.emplace_back(name, value.Reveal());
    }
  }

  void Timeout(net::SmtpServer& server) {
    server.timeout = ctx.PositiveDuration(spec, "timeout", "email", server.timeout);
  }
};

void WarnAtLoad(const net::SmtpServer& server, const std::string& what) {
  if (server.tls == net::SmtpTls::kNone) {
    spdlog::warn("{}: tls: none sends mail to {}:{} in clear text; only for local test servers",
                 what, server.host, server.port);
  }
  if (server.insecure_skip_verify && server.tls != net::SmtpTls::kNone) {
    spdlog::warn("{}: insecure_skip_verify: the certificate of {}:{} is not verified", what,
                 server.host, server.port);
  }
}

}  // namespace

std::unique_ptr<Notifier> MakeEmailNotifier(const YAML::Node& spec, const ReceiverContext& ctx) {
  Problems& p = ctx.problems;
  const std::string what = ctx.What("email");
  if (!spec.IsMap()) {
    p.Add(spec, what + " must be a mapping with at least smarthost, from and to");
    return nullptr;
  }
  const size_t before = p.list().size();
  EmailConfig config;
  if (spec["transport"]) {
    auto t = GetString(spec["transport"], p, what + " transport");
    if (t && *t == "graph") {
      config.graph = true;
    } else if (t && *t != "smtp") {
      p.Add(spec["transport"], what + ": transport must be smtp or graph, not \"" + *t + "\"");
    }
  }
  const std::vector<std::string> smtp_keys{
      "smarthost", "username", "password", "tls", "insecure_skip_verify", "ca_file", "hello"};
  std::vector<std::string> graph_keys = net::EntraKeys();
  graph_keys.push_back("graph_url");
  std::vector<std::string> keys{"transport", "from", "to", "headers", "timeout"};
  for (const auto& k : config.graph ? graph_keys : smtp_keys) keys.push_back(k);
  for (const auto& k : MessageTemplates::FieldKeys(EmailFields())) keys.push_back(k);
  ctx.CheckKeys(spec, keys);
  EmailLoader load{spec, ctx, what, p};
  if (config.graph) {
    net::ReadEntraSettings(spec, what, ctx.base_dir, p, config.graph_settings.entra);
    if (auto url = load.String("graph_url")) {
      if (net::IsHttpUrl(*url)) {
        config.graph_settings.graph_url = *url;
      } else {
        p.Add(spec["graph_url"],
              what + ": graph_url must be an http(s) URL, e.g. https://graph.microsoft.com");
      }
    }
  } else {
    load.Smarthost(config.server);
    load.Tls(config.server);
    load.Credentials(config.server);
    load.Hello(config.server);
  }
  load.Addresses(config);
  load.Headers(config);
  load.Timeout(config.server);
  MessageTemplates templates = MessageTemplates::FromYaml(spec, ctx, EmailFields());
  if (p.list().size() != before) return nullptr;
  if (!config.graph) WarnAtLoad(config.server, what);
  return std::make_unique<EmailNotifier>(std::move(config), std::move(templates), ctx.clock);
}

}  // namespace linkwatch::notifiers
