#include "notifiers/router.h"

#include <gtest/gtest.h>
#include <prometheus/registry.h>
#include <yaml-cpp/yaml.h>

#include <nlohmann/json.hpp>

#include "agent/core/problem.h"
#include "agent/core/yaml_util.h"
#include "agent/state/db.h"
#include "notifiers/notifier_metrics.h"
#include "notifiers/outbox.h"
#include "notifiers/receivers.h"
#include "tests/fakes/http_receiver.h"
#include "tests/notifiers/test_util.h"

namespace linkwatch::notifiers {
namespace {

using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;
using testutil::MakeAlert;

const std::set<std::string> kReceivers{"default", "crit", "team", "hooks"};

// The outbox runs without workers here: the test reads (and removes) what
// the router queued, so every created notification is seen, in order.
class RouterTest : public ::testing::Test {
 protected:
  void SetUp() override { OpenOutbox(); }

  void OpenOutbox() {
    router_.reset();
    outbox_.reset();
    auto o = Outbox::Open(dir_.File("state.db"), clock_, metrics_);
    ASSERT_TRUE(o.ok()) << o.message();
    outbox_ = std::move(o).value();
  }

  RouteConfig Route(const std::string& yaml) {
    Problems problems("config.yaml");
    RouteConfig r = ParseRoute(LoadYamlString(yaml, "config.yaml")["route"], "config.yaml",
                               kReceivers, problems);
    EXPECT_TRUE(problems.empty()) << problems.list()[0].ToString();
    return r;
  }

  void Start(const std::string& yaml, std::map<std::string, bool> send_resolved = {}) {
    ReceiverDispatchMap receivers;
    for (const auto& [name, sr] : send_resolved) receivers[name].send_resolved = sr;
    router_ = std::make_unique<Router>(Route(yaml), *outbox_, clock_, "http://lw:9464/",
                                       std::move(receivers));
  }

  std::vector<Notification> Drain() {
    std::vector<Notification> out;
    Status s = outbox_->WithDb([&](state::Db& db) -> Status {
      auto st = db.Prepare("SELECT payload FROM linkwatch_outbox ORDER BY id");
      if (!st.ok()) return st.status();
      while (st->Step()) {
        auto n = FromPayload(st->Text(0));
        if (!n.ok()) return n.status();
        out.push_back(std::move(n).value());
      }
      if (!st->status().ok()) return st->status();
      return db.Exec("DELETE FROM linkwatch_outbox");
    });
    EXPECT_TRUE(s.ok()) << s.message();
    return out;
  }

  // Moves the clock and runs one watcher cycle.
  std::vector<std::string> Cycle(Duration advance, const std::vector<Alert>& alerts) {
    clock_.Advance(advance);
    router_->Update(alerts);
    return router_->Flush();
  }

  double Now() const { return ToEpochSeconds(clock_.Now()); }

  Alert Firing(const std::string& name, const std::string& entity, LabelSet extra = {}) {
    LabelSet labels{{"alertname", name}, {"entity", entity}, {"profile", "crm"}};
    labels.insert(extra.begin(), extra.end());
    return MakeAlert(labels, AlertState::kFiring, Now());
  }
  static Alert Resolved(Alert a, double at) {
    a.state = AlertState::kResolved;
    a.ends_at = at;
    return a;
  }
  static std::vector<std::string> Entities(const Notification& n) {
    std::vector<std::string> out;
    for (const auto& a : n.alerts) {
      out.push_back(a.labels.at("entity") + (a.state == AlertState::kResolved ? "-" : "+"));
    }
    return out;
  }

  testutil::TempDir dir_;
  ManualClock clock_{testutil::T0()};
  prometheus::Registry registry_;
  NotifierMetrics metrics_{registry_};
  std::unique_ptr<Outbox> outbox_;
  std::unique_ptr<Router> router_;
};

constexpr const char* kBasic = R"(
route:
  receiver: default
  group_by: [alertname, profile]
  group_wait: 30s
  group_interval: 5m
  repeat_interval: 4h
)";

TEST_F(RouterTest, AReceiverWithAResendIntervalSeesFiringGroupsThatOften) {
  // alertmanager forwarding: Alertmanager forgets an alert that is not sent
  // again, so its groups are re-sent each resend_interval (here 1m), well
  // within group_interval 5m and repeat_interval 4h.
  ReceiverDispatchMap receivers;
  receivers["default"].resend_interval = Millis(60 * 1000);
  router_ = std::make_unique<Router>(Route(kBasic), *outbox_, clock_, "http://lw:9464/",
                                     std::move(receivers));
  Alert a = Firing("SyncStalled", "account");
  Cycle(Duration::zero(), {a});
  Cycle(std::chrono::seconds(30), {a});
  ASSERT_EQ(Drain().size(), 1u);
  Cycle(std::chrono::seconds(59), {a});
  EXPECT_TRUE(Drain().empty());
  Cycle(std::chrono::seconds(1), {a});
  EXPECT_EQ(Drain().size(), 1u) << "re-sent after resend_interval";
  Cycle(std::chrono::seconds(60), {a});
  EXPECT_EQ(Drain().size(), 1u);
}

TEST_F(RouterTest, NewGroupWaitsGroupWaitThenGroupInterval) {
  Start(kBasic);
  Alert a = Firing("SyncStalled", "account");
  EXPECT_TRUE(Cycle(seconds(0), {a}).empty());
  EXPECT_TRUE(Drain().empty());
  EXPECT_EQ(router_->NextFlush(), testutil::T0() + seconds(30));

  Alert b = Firing("SyncStalled", "contact");
  Cycle(seconds(10), {a, b});
  EXPECT_TRUE(Drain().empty());
  Cycle(seconds(20), {a, b});  // T0+30s: group_wait is over
  auto sent = Drain();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].receiver, "default");
  EXPECT_EQ(sent[0].group_key, "{}:{alertname=\"SyncStalled\", profile=\"crm\"}");
  EXPECT_EQ(sent[0].group_labels, (LabelSet{{"alertname", "SyncStalled"}, {"profile", "crm"}}));
  EXPECT_EQ(Entities(sent[0]), (std::vector<std::string>{"account+", "contact+"}));
  EXPECT_EQ(sent[0].created_at, Now());
  EXPECT_EQ(sent[0].external_url, "http://lw:9464/");
  EXPECT_EQ(router_->NextFlush(), testutil::T0() + seconds(30) + minutes(5));

  // A new alert in a flushed group waits for the next group_interval.
  Alert c = Firing("SyncStalled", "lead");
  Cycle(minutes(1), {a, b, c});
  EXPECT_TRUE(Drain().empty());
  Cycle(minutes(4), {a, b, c});
  sent = Drain();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(Entities(sent[0]), (std::vector<std::string>{"account+", "contact+", "lead+"}));

  // Nothing changed: nothing is sent at the next interval.
  Cycle(minutes(5), {a, b, c});
  EXPECT_TRUE(Drain().empty());
}

TEST_F(RouterTest, UnchangedGroupIsRepeatedAfterRepeatInterval) {
  Start(kBasic);
  Alert a = Firing("SyncStalled", "account");
  Cycle(seconds(0), {a});
  Cycle(seconds(30), {a});
  ASSERT_EQ(Drain().size(), 1u);
  const TimePoint first = clock_.Now();
  int repeats = 0;
  while (clock_.Now() < first + hours(4) + minutes(10)) {
    Cycle(minutes(5), {a});
    auto sent = Drain();
    if (!sent.empty()) {
      ++repeats;
      EXPECT_GE(clock_.Now() - first, hours(4));
      EXPECT_EQ(Entities(sent[0]), (std::vector<std::string>{"account+"}));
    }
  }
  EXPECT_EQ(repeats, 1);
}

TEST_F(RouterTest, GroupWaitZeroQueuesInTheSameCycle) {
  Start(R"(
route: {receiver: default, group_by: [alertname], group_wait: 0s, group_interval: 5s}
)");
  router_->Update({Firing("SyncStalled", "account")});
  EXPECT_EQ(router_->NextFlush(), clock_.Now());
  router_->Flush();
  EXPECT_EQ(Drain().size(), 1u);
}

// A burst of groups due at once is queued in chunks (one transaction each);
// every group is queued and logged once, and a mass resolution forgets
// every alert.
TEST_F(RouterTest, ABurstOfGroupsIsQueuedOnceEachAndResolvedTogether) {
  Start(R"(
route: {receiver: default, group_by: [alertname, entity], group_wait: 0s, group_interval: 5s}
)");
  std::vector<Alert> alerts;
  for (int i = 0; i < 700; ++i) alerts.push_back(Firing("SyncStalled", "e" + std::to_string(i)));
  EXPECT_TRUE(Cycle(seconds(0), alerts).empty());
  auto sent = Drain();
  ASSERT_EQ(sent.size(), 700u);
  std::set<std::string> keys;
  for (const auto& n : sent) keys.insert(n.group_key);
  EXPECT_EQ(keys.size(), 700u);
  EXPECT_TRUE(Cycle(seconds(5), alerts).empty());
  EXPECT_TRUE(Drain().empty()) << "the log holds every group: nothing is sent again";
  std::vector<Alert> resolved;
  for (const auto& a : alerts) resolved.push_back(Resolved(a, Now()));
  EXPECT_EQ(Cycle(seconds(5), resolved).size(), 700u);
  EXPECT_TRUE(router_->Groups().empty());
}

TEST_F(RouterTest, PendingAlertsAreIgnored) {
  Start(kBasic);
  Alert p = Firing("SyncStalled", "account");
  p.state = AlertState::kPending;
  Cycle(seconds(0), {p});
  EXPECT_EQ(router_->NextFlush(), TimePoint::max());
  EXPECT_TRUE(router_->Groups().empty());
}

TEST_F(RouterTest, ResolvedAlertIsNotifiedThenForgotten) {
  Start(kBasic);
  Alert a = Firing("SyncStalled", "account");
  Alert b = Firing("SyncStalled", "contact");
  Cycle(seconds(30), {a, b});
  Cycle(seconds(0), {a, b});
  ASSERT_EQ(Drain().size(), 1u);

  Alert a_done = Resolved(a, Now() + 60);
  EXPECT_TRUE(Cycle(minutes(1), {a_done, b}).empty());  // not due yet
  auto forget = Cycle(minutes(4), {a_done, b});
  EXPECT_EQ(forget, std::vector<std::string>{a.fingerprint});
  auto sent = Drain();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_STREQ(sent[0].StatusText(), "firing");
  EXPECT_EQ(Entities(sent[0]), (std::vector<std::string>{"account-", "contact+"}));
  EXPECT_EQ(sent[0].alerts[0].ends_at, a_done.ends_at);
  ASSERT_EQ(router_->Groups().size(), 1u);
  EXPECT_EQ(router_->Groups()[0].fingerprints, std::vector<std::string>{b.fingerprint});

  // The last alert resolves: a resolved notification, then the group is gone.
  Alert b_done = Resolved(b, Now());
  forget = Cycle(minutes(5), {b_done});  // the engine forgot `a`
  EXPECT_EQ(forget, std::vector<std::string>{b.fingerprint});
  sent = Drain();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_STREQ(sent[0].StatusText(), "resolved");
  EXPECT_EQ(Entities(sent[0]), (std::vector<std::string>{"contact-"}));
  EXPECT_TRUE(router_->Groups().empty());
  EXPECT_EQ(router_->NextFlush(), TimePoint::max());

  // Reported once more before the engine forgets it: nothing happens.
  EXPECT_TRUE(Cycle(minutes(5), {b_done}).empty());
  EXPECT_TRUE(router_->Groups().empty());
  EXPECT_TRUE(Drain().empty());
}

TEST_F(RouterTest, AlertResolvedBeforeItWasNotifiedSendsNothing) {
  Start(kBasic);
  Alert a = Firing("SyncStalled", "account");
  Cycle(seconds(0), {a});
  auto forget = Cycle(seconds(30), {Resolved(a, Now() + 30)});
  EXPECT_EQ(forget, std::vector<std::string>{a.fingerprint});
  EXPECT_TRUE(Drain().empty());
}

TEST_F(RouterTest, SendResolvedFalseSendsOnlyFiringChanges) {
  Start(kBasic, {{"default", false}});
  Alert a = Firing("SyncStalled", "account");
  Alert b = Firing("SyncStalled", "contact");
  Cycle(seconds(30), {a, b});
  Cycle(seconds(0), {a, b});
  ASSERT_EQ(Drain().size(), 1u);

  auto forget = Cycle(minutes(5), {Resolved(a, Now()), b});
  EXPECT_EQ(forget, std::vector<std::string>{a.fingerprint});
  EXPECT_TRUE(Drain().empty());

  forget = Cycle(minutes(5), {Resolved(b, Now())});
  EXPECT_EQ(forget, std::vector<std::string>{b.fingerprint});
  EXPECT_TRUE(Drain().empty());

  // Firing again later is news.
  Alert again = Firing("SyncStalled", "account");
  Cycle(seconds(30), {again});
  Cycle(seconds(0), {again});
  auto sent = Drain();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(Entities(sent[0]), (std::vector<std::string>{"account+"}));
}

TEST_F(RouterTest, AlertTheEngineNoLongerReportsIsResolved) {
  Start(kBasic);
  Alert a = Firing("SyncStalled", "account");
  Cycle(seconds(30), {a});
  Cycle(seconds(0), {a});
  ASSERT_EQ(Drain().size(), 1u);
  auto forget = Cycle(minutes(5), {});
  EXPECT_EQ(forget, std::vector<std::string>{a.fingerprint});
  auto sent = Drain();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(Entities(sent[0]), (std::vector<std::string>{"account-"}));
  EXPECT_EQ(sent[0].alerts[0].ends_at, Now());
}

constexpr const char* kTree = R"(
route:
  receiver: default
  group_by: [alertname]
  group_wait: 0s
  routes:
    - matchers: ['severity="critical"']
      receiver: crit
      continue: true
    - matchers: ['team=~"data|sync"']
      receiver: team
      group_by: ['...']
      routes:
        - matchers: [profile=hr]
          receiver: hooks
)";

TEST_F(RouterTest, MatchersAndContinueChooseTheReceivers) {
  Start(kTree);
  Alert both = Firing("A", "account", {{"severity", "critical"}, {"team", "data"}});
  Alert crit = Firing("B", "account", {{"severity", "critical"}});
  Alert team = Firing("C", "account", {{"team", "sync"}});
  Alert none = Firing("D", "account", {{"team", "database"}});  // anchored regex
  Alert nested = Firing("E", "account", {{"team", "data"}});
  nested.labels["profile"] = "hr";
  nested.fingerprint = LabelFingerprint(nested.labels);
  Cycle(seconds(0), {both, crit, team, none, nested});
  std::map<std::string, std::vector<std::string>> by_receiver;
  for (const auto& n : Drain()) {
    for (const auto& a : n.alerts) by_receiver[n.receiver].push_back(a.labels.at("alertname"));
  }
  EXPECT_EQ(by_receiver["crit"], (std::vector<std::string>{"A", "B"}));
  EXPECT_EQ(by_receiver["team"], (std::vector<std::string>{"A", "C"}));
  EXPECT_EQ(by_receiver["default"], (std::vector<std::string>{"D"}));
  EXPECT_EQ(by_receiver["hooks"], (std::vector<std::string>{"E"}));

  std::set<std::string> keys;
  for (const auto& g : router_->Groups()) keys.insert(g.group_key);
  EXPECT_TRUE(keys.count("{}/{severity=\"critical\"}:{alertname=\"A\"}"));
  EXPECT_TRUE(keys.count("{}:{alertname=\"D\"}"));
  // group_by '...': every label is a group label.
  EXPECT_TRUE(keys.count("{}/{team=~\"data|sync\"}:" + FormatLabelSet(team.labels)));
  EXPECT_TRUE(
      keys.count("{}/{team=~\"data|sync\"}/{profile=\"hr\"}:" + FormatLabelSet(nested.labels)));
}

TEST_F(RouterTest, NestedRoutesInheritTheirParentsSettings) {
  RouteConfig r = Route(R"(
route:
  receiver: default
  group_by: [alertname]
  group_wait: 1s
  group_interval: 2m
  repeat_interval: 3h
  routes:
    - matchers: ['severity="critical"', 'team!="x"']
      routes:
        - receiver: crit
          group_wait: 5s
)");
  ASSERT_EQ(r.routes.size(), 1u);
  const RouteConfig& child = r.routes[0];
  EXPECT_EQ(child.receiver, "default");
  EXPECT_EQ(child.group_by, std::vector<std::string>{"alertname"});
  EXPECT_EQ(child.group_wait, seconds(1));
  EXPECT_EQ(child.group_interval, minutes(2));
  EXPECT_EQ(child.repeat_interval, hours(3));
  ASSERT_EQ(child.matchers.size(), 2u);
  EXPECT_EQ(child.matchers[0].name(), "severity");  // sorted
  const RouteConfig& grandchild = child.routes.at(0);
  EXPECT_EQ(grandchild.receiver, "crit");
  EXPECT_EQ(grandchild.group_wait, seconds(5));
  EXPECT_EQ(grandchild.group_interval, minutes(2));
  EXPECT_TRUE(grandchild.matchers.empty());

  RouteConfig defaults = Route("route: {receiver: default}");
  EXPECT_EQ(defaults.group_wait, seconds(30));
  EXPECT_EQ(defaults.group_interval, minutes(5));
  EXPECT_EQ(defaults.repeat_interval, hours(4));
  EXPECT_TRUE(defaults.group_by.empty());
}

TEST_F(RouterTest, RouteMistakesAreReportedWithPositions) {
  Problems problems("config.yaml");
  ParseRoute(LoadYamlString(R"(route:
  receiver: defualt
  group_by: [alertname, '...']
  group_intervall: 5m
  repeat_interval: 0s
  matchers: ['a="b"']
  continue: true
  routes:
    - matchers: ['severity=="critical"', 'x=~"("']
      receiver: nobody
)",
                            "config.yaml")["route"],
             "config.yaml", kReceivers, problems);
  std::string all;
  for (const auto& p : problems.list()) all += p.ToString() + "\n";
  EXPECT_NE(all.find("config.yaml:2:13: unknown receiver \"defualt\" (did you mean \"default\"?)"),
            std::string::npos)
      << all;
  EXPECT_NE(all.find("config.yaml:3:13: group_by: '...' (all labels) cannot be combined"),
            std::string::npos)
      << all;
  EXPECT_NE(all.find("config.yaml:4:3: unknown key \"group_intervall\" in route (did you mean "
                     "\"group_interval\"?)"),
            std::string::npos)
      << all;
  EXPECT_NE(all.find("config.yaml:5:20: repeat_interval must be above 0"), std::string::npos)
      << all;
  EXPECT_NE(all.find("config.yaml:6:13: the root route must not have matchers"), std::string::npos)
      << all;
  EXPECT_NE(all.find("config.yaml:7:13: the root route cannot have continue"), std::string::npos)
      << all;
  EXPECT_NE(all.find("config.yaml:9:18: bad matcher"), std::string::npos) << all;
  EXPECT_NE(all.find("bad regular expression"), std::string::npos) << all;
  EXPECT_NE(all.find("config.yaml:10:17: unknown receiver \"nobody\""), std::string::npos) << all;

  Problems missing("config.yaml");
  ParseRoute(LoadYamlString("route: {group_by: [a]}", "config.yaml")["route"], "config.yaml",
             kReceivers, missing);
  ASSERT_EQ(missing.list().size(), 1u);
  EXPECT_NE(missing.list()[0].message.find("route needs a receiver"), std::string::npos);
}

TEST_F(RouterTest, NotificationLogSurvivesARestart) {
  Start(kBasic);
  Alert a = Firing("SyncStalled", "account");
  Cycle(seconds(0), {a});
  Cycle(seconds(30), {a});
  ASSERT_EQ(Drain().size(), 1u);

  // Restart: new outbox and router on the same state file, 10 minutes later.
  clock_.Advance(minutes(10));
  OpenOutbox();
  Start(kBasic);
  router_->Update({a});
  // The alert is older than group_wait: the new group flushes at once...
  EXPECT_EQ(router_->NextFlush(), clock_.Now());
  router_->Flush();
  // ...but the log says it was sent: no re-send.
  EXPECT_TRUE(Drain().empty());

  // New alerts are still news, and repeat_interval still counts from the
  // notification before the restart.
  Alert b = Firing("SyncStalled", "contact");
  Cycle(minutes(5), {a, b});
  auto sent = Drain();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(Entities(sent[0]), (std::vector<std::string>{"account+", "contact+"}));
}

TEST_F(RouterTest, RepeatIntervalCountsAcrossARestart) {
  Start(kBasic);
  Alert a = Firing("SyncStalled", "account");
  Cycle(seconds(30), {a});
  Cycle(seconds(0), {a});
  ASSERT_EQ(Drain().size(), 1u);
  const TimePoint sent_at = clock_.Now();
  clock_.Advance(hours(3));
  OpenOutbox();
  Start(kBasic);
  int sends = 0;
  TimePoint when{};
  while (clock_.Now() < sent_at + hours(5)) {
    Cycle(minutes(5), {a});
    if (!Drain().empty() && sends++ == 0) when = clock_.Now();
  }
  EXPECT_EQ(sends, 1);
  EXPECT_GE(when - sent_at, hours(4));
  EXPECT_LT(when - sent_at, hours(4) + minutes(10));
}

TEST_F(RouterTest, ResolutionAfterARestartIsStillNotified) {
  Start(kBasic);
  Alert a = Firing("SyncStalled", "account");
  Cycle(seconds(30), {a});
  Cycle(seconds(0), {a});
  ASSERT_EQ(Drain().size(), 1u);
  clock_.Advance(minutes(2));
  OpenOutbox();
  Start(kBasic);
  // The engine restored the resolved-not-yet-notified alert.
  auto forget = Cycle(seconds(0), {Resolved(a, Now() - 60)});
  EXPECT_EQ(forget, std::vector<std::string>{a.fingerprint});
  auto sent = Drain();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_STREQ(sent[0].StatusText(), "resolved");
}

TEST_F(RouterTest, ResolvedAlertIsForgottenOnlyWhenEveryRouteQueuedIt) {
  Start(R"(
route:
  receiver: default
  group_by: [alertname]
  group_wait: 0s
  routes:
    - matchers: ['severity="critical"']
      receiver: crit
      group_interval: 1m
      continue: true
    - matchers: ['team="data"']
      receiver: team
      group_interval: 10m
)");
  Alert a = Firing("A", "account", {{"severity", "critical"}, {"team", "data"}});
  Cycle(seconds(0), {a});
  ASSERT_EQ(Drain().size(), 2u);
  Alert done = Resolved(a, Now() + 30);
  EXPECT_TRUE(Cycle(seconds(60), {done}).empty());  // crit queued it, team still holds it
  auto sent = Drain();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].receiver, "crit");
  // The engine keeps reporting it; crit must not get it again.
  for (int i = 0; i < 8; ++i) EXPECT_TRUE(Cycle(seconds(60), {done}).empty());
  EXPECT_TRUE(Drain().empty());
  auto forget = Cycle(seconds(60), {done});  // T0+10m: team's interval
  EXPECT_EQ(forget, std::vector<std::string>{a.fingerprint});
  sent = Drain();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].receiver, "team");
  EXPECT_STREQ(sent[0].StatusText(), "resolved");
}

class LabelMuter final : public Muter {
 public:
  void Observe(const std::vector<Alert>& alerts) override { observed = alerts.size(); }
  bool Muted(const Alert& alert, TimePoint) const override {
    return alert.labels.count("muted") > 0;
  }
  size_t observed = 0;
};

TEST_F(RouterTest, MutersAreConsultedBeforeANotificationIsCreated) {
  Start(kBasic);
  auto muter = std::make_shared<LabelMuter>();
  router_->SetMuters({muter});
  Alert quiet = Firing("SyncStalled", "account", {{"muted", "yes"}});
  Alert loud = Firing("SyncStalled", "contact");
  Cycle(seconds(30), {quiet});
  Cycle(seconds(0), {quiet});
  EXPECT_EQ(muter->observed, 1u);
  EXPECT_TRUE(Drain().empty());
  Cycle(minutes(5), {quiet, loud});
  auto sent = Drain();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(Entities(sent[0]), (std::vector<std::string>{"contact+"}));
}

TEST_F(RouterTest, ReloadRegroupsUnderTheNewTree) {
  Start(kBasic);
  Alert a = Firing("SyncStalled", "account", {{"severity", "critical"}});
  Cycle(seconds(30), {a});
  Cycle(seconds(0), {a});
  ASSERT_EQ(Drain().size(), 1u);

  // Same tree again: the log keeps it from re-sending.
  router_->Replace(Route(kBasic), {});
  EXPECT_TRUE(Cycle(seconds(0), {a}).empty());
  EXPECT_TRUE(Drain().empty());

  // A new route for critical alerts: its receiver has not seen the alert.
  router_->Replace(Route(R"(
route:
  receiver: default
  group_by: [alertname, profile]
  routes:
    - matchers: ['severity="critical"']
      receiver: crit
      group_wait: 10s
)"),
                   {});
  // The alert fires for longer than the new group's group_wait: at once.
  Cycle(seconds(0), {a});
  auto sent = Drain();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].receiver, "crit");
}

// End to end: router -> outbox -> webhook -> a local receiver.
TEST_F(RouterTest, FiringAlertReachesTheWebhookWithinMilliseconds) {
  fakes::HttpReceiver server;
  Problems problems("config.yaml");
  auto rs = ParseReceivers(
      LoadYamlString("receivers:\n  - name: hooks\n    webhook: {url: '" + server.Url() + "'}\n",
                     "config.yaml")["receivers"],
      "config.yaml", dir_.path().string(), problems, clock_);
  ASSERT_TRUE(problems.empty());
  outbox_->SetReceivers(rs);
  outbox_->Start();
  Start("route: {receiver: hooks, group_by: [alertname], group_wait: 0s, group_interval: 5s}");
  const auto start = std::chrono::steady_clock::now();
  router_->Update({Firing("SyncStalled", "account")});
  router_->Flush();
  ASSERT_TRUE(server.WaitForRequests(1));
  const auto took = server.Requests()[0].received_at - start;
  EXPECT_LT(took, std::chrono::milliseconds(250))
      << std::chrono::duration<double>(took).count() << "s";
  auto body = nlohmann::json::parse(server.Requests()[0].body);
  EXPECT_EQ(body["version"], "4");
  EXPECT_EQ(body["groupKey"], "{}:{alertname=\"SyncStalled\"}");
  EXPECT_EQ(body["receiver"], "hooks");
  EXPECT_EQ(body["alerts"][0]["labels"]["entity"], "account");
}

}  // namespace
// Issue 7 point 17: a receiver with a missing {env:} secret is one problem,
// at the receiver; the routes naming it do not add "unknown receiver".
TEST(ReceiverNamesTest, AnInvalidReceiverIsStillAKnownName) {
  const auto root = LoadYamlString(R"(receivers:
  - name: hook
    webhook: {url: {env: LW_SURELY_UNSET_VAR_7}}
  - name: ok
    log: {}
route:
  receiver: hook
  routes:
    - {matchers: ['a="b"'], receiver: hook}
    - {matchers: ['a="c"'], receiver: nobody}
)",
                                   "config.yaml");
  Problems problems("config.yaml");
  const auto receivers = ParseReceivers(root["receivers"], "config.yaml", "/tmp", problems);
  ASSERT_EQ(receivers.size(), 1u);
  const auto names = DeclaredReceiverNames(root["receivers"]);
  EXPECT_EQ(names, (std::set<std::string>{"hook", "ok"}));
  ParseRoute(root["route"], "config.yaml", names, problems);
  std::vector<std::string> all;
  for (const auto& p : problems.list()) all.push_back(p.ToString());
  ASSERT_EQ(all.size(), 2u) << ::testing::PrintToString(all);
  EXPECT_NE(all[0].find("config.yaml:3:"), std::string::npos) << all[0];
  EXPECT_NE(all[0].find("LW_SURELY_UNSET_VAR_7"), std::string::npos) << all[0];
  EXPECT_EQ(all[1].rfind("config.yaml:10:", 0), 0u) << all[1];
  EXPECT_NE(all[1].find("unknown receiver \"nobody\""), std::string::npos) << all[1];
}

}  // namespace linkwatch::notifiers
