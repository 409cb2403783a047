// The email integration built from YAML through the registry, as the config
// loader builds it: its config problems (file:line:column), and delivery to a
// real SMTP server (python3-aiosmtpd, tests/fakes/smtp_server.h) over
// STARTTLS with a certificate the test makes, implicit TLS and plain text,
// with AUTH; and how each answer is classified.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <regex>
#include <sstream>

#include "agent/core/crypto.h"
#include "agent/core/problem.h"
#include "agent/core/text.h"
#include "agent/core/yaml_util.h"
#include "notifiers/receivers.h"
#include "tests/fakes/http_receiver.h"
#include "tests/fakes/smtp_server.h"
#include "tests/notifiers/test_util.h"

namespace linkwatch::notifiers {
namespace {
// Own names: a unity build puts this file beside the other tests.
namespace email_test {

using fakes::SmtpServer;
using fakes::SmtpServerOptions;
using testutil::MakeAlert;
using Json = nlohmann::json;

constexpr const char* kPassword = "s3cret-Pa55";

// `body` is the email mapping, one key a line, indented by the helper.
std::string Config(const std::string& body) {
  std::string out = "receivers:\n  - name: mail\n    email:\n";
  std::istringstream in(body);
  for (std::string line; std::getline(in, line);) out += "      " + line + "\n";
  return out;
}

std::string HeaderValue(const Json& message, const std::string& name) {
  for (const auto& h : message["headers"]) {
    if (h[0] == name) return h[1];
  }
  return "<no " + name + ">";
}

int CountHeader(const Json& message, const std::string& name) {
  int n = 0;
  for (const auto& h : message["headers"]) n += h[0] == name;
  return n;
}

const Json* Part(const Json& message, const std::string& type) {
  for (const auto& p : message["parts"]) {
    if (p["content_type"] == type) return &p;
  }
  return nullptr;
}

std::vector<std::string> Verbs(const SmtpServer& server) {
  std::vector<std::string> verbs;
  for (const auto& c : server.EventsOf("command")) verbs.push_back(c["verb"]);
  return verbs;
}

class EmailTest : public ::testing::Test {
 protected:
  std::vector<Problem> ProblemsOf(const std::string& yaml) {
    Problems problems("config.yaml");
    YAML::Node root = LoadYamlString(yaml, "config.yaml");
    ParseReceivers(root["receivers"], "config.yaml", dir_.path().string(), problems, clock_);
    return problems.list();
  }

  std::string AllProblems(const std::string& yaml) {
    std::string all;
    for (const auto& p : ProblemsOf(yaml)) all += p.ToString() + "\n";
    return all;
  }

  std::shared_ptr<Notifier> Build(const std::string& yaml) {
    Problems problems("config.yaml");
    YAML::Node root = LoadYamlString(yaml, "config.yaml");
    auto rs =
        ParseReceivers(root["receivers"], "config.yaml", dir_.path().string(), problems, clock_);
    std::string all;
    for (const auto& p : problems.list()) all += p.ToString() + "\n";
    EXPECT_TRUE(problems.empty()) << all;
    if (rs.size() != 1) return nullptr;
    return rs[0].notifier;
  }

  // A certificate for 127.0.0.1 in the test's folder; ca_file: <name>.pem.
  SmtpServerOptions Tls(const std::string& mode, const std::string& name = "server") {
    SmtpServerOptions o;
    o.tls = mode;
    o.cert_file = dir_.File(name + ".pem");
    o.key_file = dir_.File(name + ".key");
    EXPECT_TRUE(fakes::MakeTestCertificate(o.cert_file, o.key_file));
    return o;
  }

  // Two firing alerts of one group, with annotations.
  Notification Sample() {
    Notification n;
    n.receiver = "mail";
    n.group_labels = {{"alertname", "SyncStalled"}, {"profile", "crm"}};
    n.group_key = "{}:{alertname=\"SyncStalled\", profile=\"crm\"}";
    n.external_url = "http://127.0.0.1:9464/";
    n.created_at = ToEpochSeconds(clock_.Now());
    for (const char* entity : {"account", "contact"}) {
      Alert a = MakeAlert({{"alertname", "SyncStalled"}, {"profile", "crm"}, {"entity", entity}},
                          AlertState::kFiring, ToEpochSeconds(clock_.Now()));
      a.annotations = {{"summary", std::string(entity) + " not synced for 21m"}};
      n.alerts.push_back(std::move(a));
    }
    return n;
  }

  std::string Smarthost(const SmtpServer& s, const std::string& tls) {
    return "smarthost: " + s.HostPort() + "\ntls: " + tls + "\n";
  }
  // One sender, one recipient, linkwatch's credentials, and `extra` keys.
  static std::string Login(const std::string& extra = "") {
    return "from: linkwatch@example.com\n"
           "to: [oncall@example.com]\n"
           "username: linkwatch\n"
           "password: " +
           std::string(kPassword) + "\n" + extra;
  }

  testutil::TempDir dir_;
  ManualClock clock_{testutil::T0()};
};

// --- delivery ---------------------------------------------------------------

TEST_F(EmailTest, StartTlsWithAuthDeliversOneMessageToEveryRecipient) {
  SmtpServerOptions o = Tls("starttls");
  o.username = "linkwatch";
  o.password = kPassword;
  SmtpServer server(o);
  ASSERT_NE(server.port(), 0);
  auto mail =
      Build(Config(Smarthost(server, "starttls") +
                   "from: Linkwatch <linkwatch@example.com>\n"
                   "to: [oncall@example.com, ops@example.org, \"Team Lead <lead@example.net>\"]\n"
                   "username: linkwatch\n"
                   "password: " +
                   std::string(kPassword) +
                   "\n"
                   "ca_file: server.pem\n"
                   "hello: linkwatch.test\n"
                   "headers: {X-Linkwatch-Env: prod}\n"));
  ASSERT_TRUE(mail);
  EXPECT_EQ(mail->integration(), "email");

  const SendResult r = mail->Send(Sample());
  ASSERT_TRUE(r.ok()) << r.reason << ": " << r.detail;

  const auto messages = server.WaitForEvents("message", 1);
  ASSERT_EQ(messages.size(), 1u);
  const Json& m = messages[0];
  // One transaction, every recipient, over TLS, authenticated.
  EXPECT_EQ(m["mail_from"], "linkwatch@example.com");
  EXPECT_EQ(m["rcpt_tos"],
            Json::array({"oncall@example.com", "ops@example.org", "lead@example.net"}));
  EXPECT_EQ(m["tls"], true);
  EXPECT_EQ(m["login"], "linkwatch");
  EXPECT_EQ(m["defects"], Json::array());
  // Headers, as Python's email package reads them.
  EXPECT_EQ(HeaderValue(m, "Date"), "Thu, 01 Jan 2026 00:00:00 +0000");
  EXPECT_EQ(HeaderValue(m, "From"), "Linkwatch <linkwatch@example.com>");
  EXPECT_EQ(HeaderValue(m, "To"),
            "oncall@example.com, ops@example.org, Team Lead <lead@example.net>");
  EXPECT_EQ(HeaderValue(m, "Subject"), "[FIRING:2] SyncStalled crm");
  EXPECT_TRUE(
      std::regex_match(HeaderValue(m, "Message-ID"), std::regex("<[0-9a-f]{32}@example\\.com>")))
      << HeaderValue(m, "Message-ID");
  EXPECT_EQ(HeaderValue(m, "MIME-Version"), "1.0");
  EXPECT_EQ(HeaderValue(m, "X-Linkwatch-Env"), "prod");
  EXPECT_EQ(m["content_type"], "multipart/alternative");
  // Both parts list each alert's labels, annotations, start and link.
  ASSERT_EQ(m["parts"].size(), 2u);
  const Json* text = Part(m, "text/plain");
  const Json* html = Part(m, "text/html");
  ASSERT_TRUE(text && html);
  for (const Json* part : {text, html}) {
    EXPECT_EQ((*part)["charset"], "utf-8");
    EXPECT_EQ((*part)["encoding"], "quoted-printable");
    const std::string content = (*part)["content"];
    for (const char* want : {"FIRING SyncStalled crm/account: account not synced for 21m",
                             "FIRING SyncStalled crm/contact: contact not synced for 21m",
                             "2026-01-01T00:00:00Z", "http://127.0.0.1:9464/#alert-"}) {
      EXPECT_NE(content.find(want), std::string::npos) << want << " in\n" << content;
    }
  }
  EXPECT_NE(std::string((*html)["content"]).find("<b>entity</b></td><td>contact</td>"),
            std::string::npos);
  EXPECT_NE(std::string((*html)["content"]).find("<i>summary</i>"), std::string::npos);
  // Nothing but the greeting and STARTTLS happened before TLS was up.
  EXPECT_EQ(server.EventsOf("command")[0]["verb"], "EHLO");
  EXPECT_EQ(server.EventsOf("command")[0]["arg"], "linkwatch.test");
  for (const auto& c : server.EventsOf("command")) {
    if (c["verb"] != "EHLO" && c["verb"] != "STARTTLS") {
      EXPECT_EQ(c["tls"], true) << c.dump();
    }
  }
  EXPECT_EQ(server.EventsOf("auth").size(), 1u);
  EXPECT_EQ(server.EventsOf("auth")[0]["tls"], true);
}

TEST_F(EmailTest, TemplatesEncodedSubjectAndDotLinesArriveIntact) {
  SmtpServer server(Tls("starttls"));
  ASSERT_NE(server.port(), 0);
  auto mail =
      Build(Config(Smarthost(server, "starttls") +
                   "from: linkwatch@example.com\n"
                   "to: oncall@example.com\n"  // one address, not a list
                   "ca_file: server.pem\n"
                   "subject: \"Alerte {{commonLabels.profile}} – synchronisation bloquée\"\n"
                   "text: \"before\\n.\\n.hidden\\n..two\\nafter {{title}}\"\n"));
  ASSERT_TRUE(mail);
  const SendResult r = mail->Send(Sample());
  ASSERT_TRUE(r.ok()) << r.detail;
  const auto messages = server.WaitForEvents("message", 1);
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(HeaderValue(messages[0], "Subject"), "Alerte crm – synchronisation bloquée");
  EXPECT_NE(std::string(messages[0]["raw"]).find("Subject: =?UTF-8?B?"), std::string::npos);
  // A lone dot would end DATA early unless libcurl stuffs it.
  EXPECT_EQ((*Part(messages[0], "text/plain"))["content"],
            "before\n.\n.hidden\n..two\nafter [FIRING:2] SyncStalled crm");
}

TEST_F(EmailTest, LineBreaksInALabelValueDoNotInjectHeaders) {
  SmtpServer server(Tls("starttls"));
  ASSERT_NE(server.port(), 0);
  auto mail = Build(Config(Smarthost(server, "starttls") + "from: linkwatch@example.com\n"
                                                           "to: [oncall@example.com]\n"
                                                           "ca_file: server.pem\n"));
  ASSERT_TRUE(mail);
  Notification n = Sample();
  n.group_labels["profile"] = "crm\r\nBcc: evil@example.net\r\n\r\nforged body";
  const SendResult r = mail->Send(n);
  ASSERT_TRUE(r.ok()) << r.detail;
  const auto messages = server.WaitForEvents("message", 1);
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(CountHeader(messages[0], "Bcc"), 0);
  EXPECT_EQ(messages[0]["rcpt_tos"], Json::array({"oncall@example.com"}));
  EXPECT_EQ(HeaderValue(messages[0], "Subject"),
            "[FIRING:2] SyncStalled crm Bcc: evil@example.net forged body");
  EXPECT_EQ(messages[0]["defects"], Json::array());
}

TEST_F(EmailTest, ImplicitTlsDelivers) {
  SmtpServerOptions o = Tls("implicit");
  o.username = "linkwatch";
  o.password = kPassword;
  SmtpServer server(o);
  ASSERT_NE(server.port(), 0);
  auto mail = Build(Config(Smarthost(server, "implicit") + Login("ca_file: server.pem\n")));
  ASSERT_TRUE(mail);
  const SendResult r = mail->Send(Sample());
  ASSERT_TRUE(r.ok()) << r.detail;
  const auto messages = server.WaitForEvents("message", 1);
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(messages[0]["tls"], true);
  EXPECT_EQ(messages[0]["login"], "linkwatch");
  for (const auto& c : server.EventsOf("command")) EXPECT_EQ(c["tls"], true) << c.dump();
}

TEST_F(EmailTest, TlsNoneDeliversToAPlainLocalServerAndWarnsAtLoad) {
  SmtpServerOptions o;
  o.tls = "none";
  o.username = "linkwatch";
  o.password = kPassword;
  SmtpServer server(o);
  ASSERT_NE(server.port(), 0);
  std::ostringstream log;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(log);
  auto previous = spdlog::default_logger();
  spdlog::set_default_logger(std::make_shared<spdlog::logger>("test", sink));
  auto mail = Build(Config(Smarthost(server, "none") + Login()));
  spdlog::set_default_logger(previous);
  ASSERT_TRUE(mail);
  EXPECT_NE(log.str().find("only for local test servers"), std::string::npos) << log.str();
  const SendResult r = mail->Send(Sample());
  ASSERT_TRUE(r.ok()) << r.detail;
  const auto messages = server.WaitForEvents("message", 1);
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(messages[0]["tls"], false);
  EXPECT_EQ(messages[0]["login"], "linkwatch");
}

// --- failures ---------------------------------------------------------------

TEST_F(EmailTest, StartTlsNotOfferedFailsLoudlyAndSendsNothingInClear) {
  SmtpServerOptions o;
  o.tls = "none";  // offers no STARTTLS
  o.username = "linkwatch";
  o.password = kPassword;
  SmtpServer server(o);
  ASSERT_NE(server.port(), 0);
  // tls: starttls is the default.
  auto mail = Build(Config("smarthost: " + server.HostPort() + "\n" + Login()));
  ASSERT_TRUE(mail);
  const SendResult r = mail->Send(Sample());
  RecordProperty("detail", r.detail);  // in --gtest_output=xml
  EXPECT_EQ(r.kind, SendResult::kPermanent);
  EXPECT_EQ(r.reason, "clientError");
  EXPECT_NE(r.detail.find("does not offer STARTTLS"), std::string::npos) << r.detail;
  EXPECT_NE(r.detail.find("nothing was sent"), std::string::npos) << r.detail;
  EXPECT_EQ(r.detail.find(kPassword), std::string::npos);
  // Everything the server saw, once the connection is over: only EHLO.
  ASSERT_TRUE(server.WaitFor(SmtpServer::AllConnectionsClosed)) << server.Stderr();
  EXPECT_EQ(Verbs(server), std::vector<std::string>{"EHLO"});
  EXPECT_TRUE(server.EventsOf("auth").empty());
  EXPECT_TRUE(server.EventsOf("message").empty());
}

TEST_F(EmailTest, CertificateThatDoesNotVerifyIsPermanentAndSendsNothing) {
  SmtpServer server(Tls("starttls", "server"));
  ASSERT_NE(server.port(), 0);
  Tls("starttls", "other");  // a CA that did not sign the server's certificate
  auto mail = Build(Config(Smarthost(server, "starttls") + Login("ca_file: other.pem\n")));
  ASSERT_TRUE(mail);
  const SendResult r = mail->Send(Sample());
  RecordProperty("detail", r.detail);  // in --gtest_output=xml
  EXPECT_EQ(r.kind, SendResult::kPermanent);
  EXPECT_EQ(r.reason, "clientError");
  EXPECT_NE(r.detail.find("certificate did not verify"), std::string::npos) << r.detail;
  ASSERT_TRUE(server.WaitFor(SmtpServer::AllConnectionsClosed));
  EXPECT_TRUE(server.EventsOf("auth").empty());
  EXPECT_TRUE(server.EventsOf("message").empty());
}

TEST_F(EmailTest, InsecureSkipVerifyAcceptsAnUnknownCertificate) {
  SmtpServer server(Tls("starttls"));
  ASSERT_NE(server.port(), 0);
  auto mail = Build(Config(Smarthost(server, "starttls") + "from: linkwatch@example.com\n"
                                                           "to: [oncall@example.com]\n"
                                                           "insecure_skip_verify: true\n"));
  ASSERT_TRUE(mail);
  const SendResult r = mail->Send(Sample());
  EXPECT_TRUE(r.ok()) << r.detail;
  EXPECT_EQ(server.WaitForEvents("message", 1).size(), 1u);
}

TEST_F(EmailTest, WrongPasswordIsAPermanentAuthErrorWithoutThePassword) {
  SmtpServerOptions o = Tls("starttls");
  o.username = "linkwatch";
  o.password = "the-right-one";
  SmtpServer server(o);
  ASSERT_NE(server.port(), 0);
  auto mail = Build(Config(Smarthost(server, "starttls") + Login("ca_file: server.pem\n")));
  ASSERT_TRUE(mail);
  const SendResult r = mail->Send(Sample());
  RecordProperty("detail", r.detail);  // in --gtest_output=xml
  EXPECT_EQ(r.kind, SendResult::kPermanent);
  EXPECT_EQ(r.reason, "authError");
  EXPECT_NE(r.detail.find("535"), std::string::npos) << r.detail;
  EXPECT_EQ(r.detail.find(kPassword), std::string::npos) << r.detail;
  ASSERT_TRUE(server.WaitFor(SmtpServer::AllConnectionsClosed));
  EXPECT_TRUE(server.EventsOf("message").empty());
}

TEST_F(EmailTest, MissingCredentialsWhereTheServerRequiresThemIsAnAuthError) {
  SmtpServerOptions o = Tls("starttls");
  o.username = "linkwatch";
  o.password = kPassword;
  SmtpServer server(o);
  ASSERT_NE(server.port(), 0);
  auto mail = Build(Config(Smarthost(server, "starttls") + "from: linkwatch@example.com\n"
                                                           "to: [oncall@example.com]\n"
                                                           "ca_file: server.pem\n"));
  ASSERT_TRUE(mail);
  const SendResult r = mail->Send(Sample());  // MAIL answered 530
  RecordProperty("detail", r.detail);
  EXPECT_EQ(r.kind, SendResult::kPermanent);
  EXPECT_EQ(r.reason, "authError");
  EXPECT_NE(r.detail.find("requires authentication (set username and password)"), std::string::npos)
      << r.detail;
  EXPECT_NE(r.detail.find("530"), std::string::npos) << r.detail;
}

struct ReplyCase {
  const char* reply;
  SendResult::Kind kind;
  const char* reason;
  const char* words;  // the server's words, in the detail
};

class EmailReplyTest : public EmailTest, public ::testing::WithParamInterface<ReplyCase> {};

TEST_P(EmailReplyTest, ServerReplyIsClassified) {
  SmtpServerOptions o = Tls("starttls");
  o.replies = {GetParam().reply};
  SmtpServer server(o);
  ASSERT_NE(server.port(), 0);
  auto mail =
      Build(Config(Smarthost(server, "starttls") + "from: linkwatch@example.com\n"
                                                   "to: [oncall@example.com, ops@example.org]\n"
                                                   "ca_file: server.pem\n"));
  ASSERT_TRUE(mail);
  const SendResult r = mail->Send(Sample());
  RecordProperty("detail", r.detail);  // in --gtest_output=xml
  EXPECT_EQ(r.kind, GetParam().kind) << r.detail;
  EXPECT_EQ(r.reason, GetParam().reason) << r.detail;
  EXPECT_NE(r.detail.find(GetParam().words), std::string::npos) << r.detail;
  ASSERT_TRUE(server.WaitFor(SmtpServer::AllConnectionsClosed));
  EXPECT_TRUE(server.EventsOf("message").empty());
}

INSTANTIATE_TEST_SUITE_P(
    Replies, EmailReplyTest,
    ::testing::Values(
        ReplyCase{"RCPT=450 4.2.1 mailbox busy", SendResult::kRetry, "serverError",
                  "450 4.2.1 mailbox busy"},
        ReplyCase{"MAIL=421 4.3.2 shutting down", SendResult::kRetry, "serverError", "421"},
        ReplyCase{"RCPT=550 5.1.1 no such user", SendResult::kPermanent, "clientError",
                  "550 5.1.1 no such user"},
        ReplyCase{"DATA=554 5.6.0 message refused", SendResult::kPermanent, "clientError",
                  "554 5.6.0 message refused"},
        ReplyCase{"DATA=451 4.3.0 try again later", SendResult::kRetry, "serverError", "451 4.3.0"},
        ReplyCase{"STARTTLS=454 4.7.0 TLS not available", SendResult::kRetry, "serverError",
                  "refused STARTTLS for now"}));

TEST_F(EmailTest, ConnectionRefusedIsRetried) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);  // nothing listens there now
  auto mail = Build(Config("smarthost: 127.0.0.1:" + std::to_string(ntohs(addr.sin_port)) +
                           "\nfrom: linkwatch@example.com\nto: [oncall@example.com]\n"));
  ASSERT_TRUE(mail);
  const SendResult r = mail->Send(Sample());
  RecordProperty("detail", r.detail);  // in --gtest_output=xml
  EXPECT_EQ(r.kind, SendResult::kRetry);
  EXPECT_EQ(r.reason, "other") << r.detail;
}

TEST_F(EmailTest, ServerThatNeverGreetsTimesOutAndIsRetried) {
  // Listens (the kernel completes the handshake) but never says a word.
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(listen(fd, 4), 0);
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  auto mail = Build(Config("smarthost: 127.0.0.1:" + std::to_string(ntohs(addr.sin_port)) +
                           "\nfrom: linkwatch@example.com\nto: [oncall@example.com]\n"
                           "timeout: 300ms\n"));
  ASSERT_TRUE(mail);
  const SendResult r = mail->Send(Sample());
  RecordProperty("detail", r.detail);
  close(fd);
  EXPECT_EQ(r.kind, SendResult::kRetry);
  EXPECT_EQ(r.reason, "timeout") << r.detail;
}

// --- configuration ----------------------------------------------------------

TEST_F(EmailTest, RequiredKeysAreReportedWithTheirPosition) {
  const auto problems = ProblemsOf(Config("username: linkwatch\npassword: x\n"));
  std::string all;
  for (const auto& p : problems) all += p.ToString() + "\n";
  EXPECT_NE(all.find("config.yaml:4:7: receiver \"mail\" email: smarthost is required"),
            std::string::npos)
      << all;
  EXPECT_NE(all.find("config.yaml:4:7: receiver \"mail\" email: from is required"),
            std::string::npos)
      << all;
  EXPECT_NE(all.find("config.yaml:4:7: receiver \"mail\" email: to is required"), std::string::npos)
      << all;
}

TEST_F(EmailTest, BadValuesAreReportedAtTheirLine) {
  const std::string all =
      AllProblems(Config("smarthost: smtp.example.com\n"             // line 4: no port
                         "from: not an address\n"                    // 5
                         "to: []\n"                                  // 6
                         "tls: ssl\n"                                // 7
                         "headers: {Subject: x, \"Bad Name\": y}\n"  // 8
                         "ca_file: missing.pem\n"                    // 9
                         "timeout: 0s\n"                             // 10
                         "hello: \"two words\"\n"                    // 11
                         "smtp_password: x\n"));                     // 12
  for (const char* want : {
           "config.yaml:4:18: receiver \"mail\" email: smarthost must be host:port",
           "config.yaml:5:13: receiver \"mail\" email: from \"not an address\" is not an address",
           "config.yaml:6:11: receiver \"mail\" email: to must be one address or a list",
           "config.yaml:7:12: receiver \"mail\" email: tls must be starttls, implicit or none, "
           "not \"ssl\"",
           "config.yaml:8:17: receiver \"mail\" email: header Subject is written by linkwatch",
           "config.yaml:8:29: receiver \"mail\" email: invalid header name \"Bad Name\"",
           "config.yaml:9:16: receiver \"mail\" email: ca_file",
           "config.yaml:10:16: receiver \"mail\" email: timeout must be above 0",
           "config.yaml:11:14: receiver \"mail\" email: hello must be one host name",
           "config.yaml:12:7: ",
       }) {
    EXPECT_NE(all.find(want), std::string::npos) << want << "\nin\n" << all;
  }
}

TEST_F(EmailTest, PasswordInClearToARemoteHostIsRefused) {
  const std::string all =
      AllProblems(Config("smarthost: smtp.example.com:25\n"
                         "tls: none\n"
                         "from: linkwatch@example.com\n"
                         "to: [oncall@example.com]\n"
                         "username: linkwatch\n"
                         "password: x\n"));
  EXPECT_NE(all.find("config.yaml:9:17: receiver \"mail\" email: username and password would "
                     "cross the network in clear text to smtp.example.com"),
            std::string::npos)
      << all;
}

TEST_F(EmailTest, PasswordNeedsAUsernameAndAUsernameAPassword) {
  std::string all = AllProblems(Config(
      "smarthost: smtp.example.com:587\nfrom: a@example.com\nto: b@example.com\npassword: x\n"));
  EXPECT_NE(all.find("config.yaml:7:17: receiver \"mail\" email: password needs a username"),
            std::string::npos)
      << all;
  all = AllProblems(Config(
      "smarthost: smtp.example.com:587\nfrom: a@example.com\nto: b@example.com\nusername: u\n"));
  EXPECT_NE(all.find("config.yaml:7:17: receiver \"mail\" email: username needs a password"),
            std::string::npos)
      << all;
}

TEST_F(EmailTest, ADefaultConfigLoadsWithStartTls) {
  auto mail =
      Build(Config("smarthost: smtp.example.com:587\n"
                   "from: linkwatch@example.com\n"
                   "to: [oncall@example.com]\n"
                   "username: linkwatch\n"
                   "password: x\n"));
  EXPECT_TRUE(mail);
}

// --- transport: graph (Microsoft Graph sendMail) ---------------------------

constexpr const char* kClientSecret = "graph-client-s3cret";

std::string GraphConfig(const fakes::HttpReceiver& fake, const std::string& extra = "") {
  return Config(
      "transport: graph\n"
      "tenant_id: contoso\n"
      "client_id: 11111111-2222-3333-4444-555555555555\n"
      "client_secret: " +
      std::string(kClientSecret) + "\nauthority: " + fake.Url("") + "\ngraph_url: " + fake.Url("") +
      "\nfrom: Linkwatch <linkwatch@example.com>\n"
      "to: [oncall@example.com, dba@example.com]\n" +
      extra);
}

std::string TokenAnswer(const std::string& token) {
  return R"({"token_type":"Bearer","expires_in":3599,"access_token":")" + token + "\"}";
}

TEST_F(EmailTest, GraphSendsTheSameMimeMessageAsTheSenderWithTheAppsToken) {
  fakes::HttpReceiver graph;
  graph.Push(200, {}, TokenAnswer("graph-token-1"));
  graph.Push(202);
  auto mail = Build(GraphConfig(graph));
  ASSERT_TRUE(mail);
  SendResult r = mail->Send(Sample());
  EXPECT_TRUE(r.ok()) << r.detail;
  auto reqs = graph.Requests();
  ASSERT_EQ(reqs.size(), 2u);
  EXPECT_EQ(reqs[0].target, "/contoso/oauth2/v2.0/token");
  EXPECT_NE(reqs[0].body.find("scope=" + PercentEncode(graph.Url("") + "/.default")),
            std::string::npos)
      << reqs[0].body;
  EXPECT_EQ(reqs[1].method, "POST");
  EXPECT_EQ(reqs[1].target, "/v1.0/users/linkwatch%40example.com/sendMail");
  EXPECT_EQ(reqs[1].Header("Authorization"), "Bearer graph-token-1");
  EXPECT_EQ(reqs[1].Header("Content-Type"), "text/plain");
  auto mime = Base64Decode(reqs[1].body);
  ASSERT_TRUE(mime.has_value()) << reqs[1].body;
  EXPECT_NE(mime->find("From: \"Linkwatch\" <linkwatch@example.com>\r\n"), std::string::npos)
      << *mime;
  EXPECT_NE(mime->find("To: oncall@example.com, dba@example.com\r\n"), std::string::npos) << *mime;
  EXPECT_NE(mime->find("Subject: "), std::string::npos);
  EXPECT_NE(mime->find("multipart/alternative"), std::string::npos);
  EXPECT_NE(mime->find("text/plain"), std::string::npos);
  EXPECT_NE(mime->find("text/html"), std::string::npos);
  // The token is kept for the next mail.
  graph.Push(202);
  EXPECT_TRUE(mail->Send(Sample()).ok());
  EXPECT_EQ(graph.Count(), 3u);
}

TEST_F(EmailTest, GraphThrottlingIsRetriedAfterRetryAfterAndAnExpiredTokenRefreshedOnce) {
  fakes::HttpReceiver graph;
  graph.Push(200, {}, TokenAnswer("t1"));
  graph.Push(429, {{"Retry-After", "7"}},
             R"({"error":{"code":"ApplicationThrottled","message":"Too many requests"}})");
  auto mail = Build(GraphConfig(graph));
  ASSERT_TRUE(mail);
  SendResult r = mail->Send(Sample());
  EXPECT_EQ(r.kind, SendResult::kRetry);
  EXPECT_EQ(r.reason, "rateLimited");
  ASSERT_TRUE(r.retry_after.has_value());
  EXPECT_EQ(*r.retry_after, Millis(7000));
  graph.Push(401, {}, R"({"error":{"code":"InvalidAuthenticationToken"}})");
  graph.Push(200, {}, TokenAnswer("t2"));
  graph.Push(202);
  EXPECT_TRUE(mail->Send(Sample()).ok());
  auto reqs = graph.Requests();
  ASSERT_EQ(reqs.size(), 5u);
  EXPECT_EQ(reqs[4].Header("Authorization"), "Bearer t2");
}

TEST_F(EmailTest, GraphWithoutATokenRetriesAndNeverShowsTheSecret) {
  fakes::HttpReceiver graph;
  graph.Push(
      401, {},
      R"({"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided."})");
  auto mail = Build(GraphConfig(graph));
  ASSERT_TRUE(mail);
  SendResult r = mail->Send(Sample());
  EXPECT_EQ(r.kind, SendResult::kRetry);
  EXPECT_EQ(r.reason, "authError");
  EXPECT_NE(r.detail.find("AADSTS7000215"), std::string::npos) << r.detail;
  EXPECT_EQ(r.detail.find(kClientSecret), std::string::npos) << r.detail;
  EXPECT_EQ(graph.Count(), 1u);  // no mail without a token
}

TEST_F(EmailTest, GraphNeedsItsAppRegistrationAndRefusesSmtpKeys) {
  std::string all =
      AllProblems(Config("transport: graph\nfrom: a@example.com\nto: b@example.com\nsmarthost: "
                         "smtp.example.com:587\n"));
  EXPECT_NE(all.find("needs tenant_id"), std::string::npos) << all;
  EXPECT_NE(all.find("needs client_secret"), std::string::npos) << all;
  EXPECT_NE(all.find("smarthost"), std::string::npos) << all;
  all = AllProblems(
      Config("transport: pigeon\nsmarthost: s:25\nfrom: a@example.com\nto: b@example.com\n"));
  EXPECT_NE(all.find("transport must be smtp or graph, not \"pigeon\""), std::string::npos) << all;
}

}  // namespace email_test
}  // namespace
}  // namespace linkwatch::notifiers
