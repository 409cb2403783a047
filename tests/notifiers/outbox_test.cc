#include "notifiers/outbox.h"

#include <gtest/gtest.h>
#include <prometheus/registry.h>
#include <yaml-cpp/yaml.h>

#include <atomic>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>

#include "agent/core/problem.h"
#include "agent/core/yaml_util.h"
#include "agent/state/db.h"
#include "notifiers/notifier_metrics.h"
#include "tests/core/crash_vfs.h"
#include "tests/fakes/http_receiver.h"
#include "tests/fakes/metric_value.h"
#include "tests/notifiers/test_util.h"

namespace linkwatch::notifiers {
namespace {

using fakes::HttpReceiver;
using fakes::ScriptedResponse;
using std::chrono::milliseconds;
using std::chrono::seconds;
using testutil::MakeAlert;

class OutboxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    options_.backoff.jitter = false;  // exact backoff, so the test can check it
    Open();
  }

  void Open() {
    outbox_.reset();
    auto o = Outbox::Open(dir_.File("state.db"), clock_, metrics_, options_);
    ASSERT_TRUE(o.ok()) << o.message();
    outbox_ = std::move(o).value();
  }

  // Webhook receivers named after the servers' keys.
  void Receivers(const std::map<std::string, const HttpReceiver*>& servers,
                 const std::string& extra = "", bool start = true) {
    std::string yaml = "receivers:\n";
    for (const auto& [name, server] : servers) {
      yaml +=
          "  - name: " + name + "\n    webhook: {url: '" + server->Url("/" + name) + "'}\n" + extra;
    }
    Problems problems("config.yaml");
    auto rs = ParseReceivers(LoadYamlString(yaml, "config.yaml")["receivers"], "config.yaml",
                             dir_.path().string(), problems, clock_);
    ASSERT_TRUE(problems.empty()) << problems.list()[0].ToString();
    outbox_->SetReceivers(rs);
    if (start) outbox_->Start();
  }

  Notification Make(const std::string& receiver, const std::string& group,
                    std::vector<std::string> entities = {"account"}) {
    Notification n;
    n.receiver = receiver;
    n.group_labels = {{"alertname", group}};
    n.group_key = "{}:{alertname=\"" + group + "\"}";
    n.created_at = ToEpochSeconds(clock_.Now());
    for (const auto& e : entities) {
      n.alerts.push_back(MakeAlert({{"alertname", group}, {"entity", e}}, AlertState::kFiring,
                                   ToEpochSeconds(clock_.Now())));
    }
    return n;
  }

  void Enqueue(const Notification& n) {
    Status s = outbox_->Enqueue({n});
    ASSERT_TRUE(s.ok()) << s.message();
  }

  std::vector<OutboxEntry> List(const std::string& state) {
    auto l = outbox_->List(state);
    EXPECT_TRUE(l.ok()) << l.message();
    return l.ok() ? *l : std::vector<OutboxEntry>{};
  }

  // Waits until the head pending row has `attempts` attempts recorded.
  bool WaitForAttempts(int attempts) {
    return Eventually([&] {
      auto l = List("pending");
      return !l.empty() && l[0].attempts == attempts;
    });
  }

  // A sample of the scrape; 0 when the series does not exist.
  double Value(std::string_view name, const std::map<std::string, std::string>& labels) {
    return fakes::MetricValue(registry_, name, labels).value_or(0);
  }
  bool Has(std::string_view name, const std::map<std::string, std::string>& labels) {
    return fakes::MetricValue(registry_, name, labels).has_value();
  }
  double Delivered(const std::string& receiver) {
    return Value("linkwatch_notifications_total",
                 {{"receiver", receiver}, {"integration", "webhook"}});
  }
  double Failed(const std::string& receiver, const std::string& reason) {
    return Value("linkwatch_notifications_failed_total",
                 {{"receiver", receiver}, {"integration", "webhook"}, {"reason", reason}});
  }
  double Dead(const std::string& receiver, const std::string& reason) {
    return Value("linkwatch_notifications_dead_total",
                 {{"receiver", receiver}, {"integration", "webhook"}, {"reason", reason}});
  }
  double Pending(const std::string& receiver) {
    return Value("linkwatch_outbox_pending", {{"receiver", receiver}});
  }
  // Waits until `done` holds, looking whenever a worker parks on the clock.
  bool Eventually(const std::function<bool()>& done) { return testutil::Eventually(clock_, done); }
  // Advancing the clock alone wakes a worker whose retry came due.
  void Advance(Duration d) { clock_.Advance(d); }
  // Waits until the worker parks on the clock for its head's next attempt
  // at `due` (it has done its round: a wrong early attempt would be seen).
  bool ParkedUntil(TimePoint due) { return clock_.AwaitDeadline(due); }

  testutil::TempDir dir_;
  ManualClock clock_{testutil::T0()};
  prometheus::Registry registry_;
  NotifierMetrics metrics_{registry_};
  OutboxOptions options_;
  std::unique_ptr<Outbox> outbox_;
};

TEST_F(OutboxTest, DeliversAsSoonAsEnqueuedAndCountsIt) {
  HttpReceiver server;
  Receivers({{"hooks", &server}});
  const Notification n = Make("hooks", "SyncStalled");
  const auto start = std::chrono::steady_clock::now();
  Enqueue(n);
  ASSERT_TRUE(server.WaitForRequests(1));
  const auto took = server.Requests()[0].received_at - start;
  EXPECT_LT(took, milliseconds(1000))
      << "enqueue -> POST took " << std::chrono::duration<double>(took).count() << "s";
  EXPECT_EQ(nlohmann::json::parse(server.Requests()[0].body), WebhookBody(n));
  ASSERT_TRUE(Eventually([&] { return Delivered("hooks") == 1; }));
  EXPECT_TRUE(List("").empty());
  EXPECT_EQ(Pending("hooks"), 0);
  EXPECT_EQ(Value("linkwatch_notification_latency_seconds",
                  {{"receiver", "hooks"}, {"integration", "webhook"}}),
            1);
}

TEST_F(OutboxTest, RetriesOn503WithExponentialBackoffThenDelivers) {
  HttpReceiver server;
  server.Push(503);
  server.Push(503);
  Receivers({{"hooks", &server}});
  Enqueue(Make("hooks", "SyncStalled"));

  ASSERT_TRUE(ParkedUntil(testutil::T0() + milliseconds(500)));
  auto e = List("pending").at(0);
  EXPECT_EQ(e.attempts, 1);
  EXPECT_EQ(e.next_attempt_at, ToEpochSeconds(testutil::T0() + milliseconds(500)));
  EXPECT_NE(e.last_error.find("serverError: HTTP 503"), std::string::npos) << e.last_error;
  EXPECT_EQ(Failed("hooks", "serverError"), 1);
  EXPECT_EQ(Pending("hooks"), 1);

  Advance(milliseconds(499));  // not yet due: no attempt
  ASSERT_TRUE(ParkedUntil(testutil::T0() + milliseconds(500)));
  EXPECT_EQ(server.Count(), 1u);
  Advance(milliseconds(1));
  ASSERT_TRUE(ParkedUntil(testutil::T0() + milliseconds(1500)));
  e = List("pending").at(0);
  EXPECT_EQ(e.attempts, 2);
  EXPECT_EQ(e.next_attempt_at, ToEpochSeconds(testutil::T0() + milliseconds(1500)));

  Advance(milliseconds(1000));
  ASSERT_TRUE(ParkedUntil(TimePoint::max()));  // delivered: idle until an Enqueue
  EXPECT_EQ(Delivered("hooks"), 1);
  EXPECT_EQ(server.Count(), 3u);
  EXPECT_EQ(Failed("hooks", "serverError"), 2);
  EXPECT_TRUE(List("").empty());
  EXPECT_EQ(Pending("hooks"), 0);
}

TEST_F(OutboxTest, BackoffIsCappedAndJittered) {
  options_.backoff.jitter = true;
  options_.backoff.cap = seconds(4);
  Open();
  HttpReceiver server;
  server.SetDefault(ScriptedResponse{503, {}, {}, {}});
  Receivers({{"hooks", &server}});
  Enqueue(Make("hooks", "SyncStalled"));
  int seen = 0;
  while (seen < 6) {
    // Parked for a retry (a jittered wait of 0 retries at once, so attempts
    // may move on by more than one between two looks).
    ASSERT_TRUE(clock_.AwaitDeadline(clock_.Now() + Duration(1), clock_.Now() + seconds(4)));
    const auto e = List("pending").at(0);
    ASSERT_GT(e.attempts, seen);
    seen = e.attempts;
    const double wait = e.next_attempt_at - ToEpochSeconds(clock_.Now());
    const double backoff = std::min(4.0, 0.5 * (1 << (seen - 1)));
    EXPECT_GE(wait, 0) << seen;
    EXPECT_LE(wait, backoff + 1e-6) << seen;
    Advance(seconds(4));
  }
}

TEST_F(OutboxTest, HonoursRetryAfterUpToTenMinutes) {
  HttpReceiver server;
  server.Push(429, {{"Retry-After", "120"}});
  server.Push(503, {{"Retry-After", "3600"}});
  Receivers({{"hooks", &server}});
  Enqueue(Make("hooks", "SyncStalled"));

  // A minute at most per wait (then the head is read again).
  ASSERT_TRUE(ParkedUntil(testutil::T0() + seconds(60)));
  EXPECT_EQ(List("pending").at(0).next_attempt_at, ToEpochSeconds(testutil::T0() + seconds(120)));
  EXPECT_EQ(Failed("hooks", "rateLimited"), 1);
  Advance(seconds(60));
  ASSERT_TRUE(ParkedUntil(testutil::T0() + seconds(120)));
  Advance(seconds(59));
  ASSERT_TRUE(ParkedUntil(testutil::T0() + seconds(120)));
  EXPECT_EQ(server.Count(), 1u);  // not before the Retry-After

  Advance(seconds(1));
  ASSERT_TRUE(ParkedUntil(testutil::T0() + seconds(180)));
  EXPECT_EQ(List("pending").at(0).attempts, 2);
  // 3600 s asked, 10 minutes honoured.
  EXPECT_EQ(List("pending").at(0).next_attempt_at,
            ToEpochSeconds(testutil::T0() + seconds(120) + std::chrono::minutes(10)));
  Advance(std::chrono::minutes(10));
  ASSERT_TRUE(Eventually([&] { return Delivered("hooks") == 1; }));
}

TEST_F(OutboxTest, DeadLettersA400WithReasonClientError) {
  HttpReceiver server;
  server.Push(400, {}, "unknown field");
  server.Push(401);
  Receivers({{"hooks", &server}});
  Enqueue(Make("hooks", "SyncStalled"));
  ASSERT_TRUE(Eventually([&] { return List("dead").size() == 1; }));
  auto dead = List("dead").at(0);
  EXPECT_EQ(dead.state, "dead");
  EXPECT_EQ(dead.dead_reason, "clientError");
  EXPECT_EQ(dead.attempts, 1);
  EXPECT_EQ(dead.receiver, "hooks");
  EXPECT_EQ(dead.group_key, "{}:{alertname=\"SyncStalled\"}");
  EXPECT_NE(dead.last_error.find("unknown field"), std::string::npos) << dead.last_error;
  EXPECT_EQ(Failed("hooks", "clientError"), 1);
  EXPECT_EQ(Dead("hooks", "clientError"), 1);
  EXPECT_TRUE(List("pending").empty());
  EXPECT_EQ(Pending("hooks"), 0);

  Enqueue(Make("hooks", "ProfileError"));
  ASSERT_TRUE(Eventually([&] { return List("dead").size() == 2; }));
  EXPECT_EQ(List("dead").at(1).dead_reason, "authError");
  EXPECT_EQ(Dead("hooks", "authError"), 1);
  EXPECT_EQ(server.Count(), 2u);  // dead letters are not retried
}

TEST_F(OutboxTest, ExpiresAfterMaxAge) {
  options_.max_age = std::chrono::hours(1);
  Open();
  HttpReceiver server;
  server.SetDefault(ScriptedResponse{503, {}, {}, {}});
  Receivers({{"hooks", &server}});
  Enqueue(Make("hooks", "SyncStalled"));
  ASSERT_TRUE(ParkedUntil(testutil::T0() + milliseconds(500)));
  Advance(std::chrono::hours(2));
  ASSERT_TRUE(Eventually([&] { return List("dead").size() == 1; }));
  EXPECT_EQ(List("dead").at(0).dead_reason, "expired");
  EXPECT_EQ(Dead("hooks", "expired"), 1);
  EXPECT_EQ(server.Count(), 1u);
}

TEST_F(OutboxTest, NewerNotificationSupersedesAnUndeliveredOlderOne) {
  HttpReceiver server;
  server.Push(503);
  Receivers({{"hooks", &server}});
  Enqueue(Make("hooks", "SyncStalled", {"account"}));
  ASSERT_TRUE(WaitForAttempts(1));  // waiting for its retry, not in flight
  const int64_t old_id = List("pending").at(0).id;

  const Notification newer = Make("hooks", "SyncStalled", {"account", "contact"});
  Enqueue(newer);  // replaces the waiting one and is tried at once
  ASSERT_TRUE(Eventually([&] { return Delivered("hooks") == 1; }));
  ASSERT_EQ(server.Count(), 2u);
  EXPECT_EQ(nlohmann::json::parse(server.Requests()[1].body), WebhookBody(newer));
  EXPECT_TRUE(List("").empty());
  EXPECT_GT(old_id, 0);
}

TEST_F(OutboxTest, OtherGroupsAreNotSuperseded) {
  HttpReceiver server;
  server.Push(503);
  Receivers({{"hooks", &server}});
  Enqueue(Make("hooks", "SyncStalled"));
  ASSERT_TRUE(WaitForAttempts(1));
  Enqueue(Make("hooks", "ProfileError"));
  Enqueue(Make("other", "SyncStalled"));  // same group, another receiver
  auto pending = List("pending");
  ASSERT_EQ(pending.size(), 3u);
  EXPECT_EQ(pending[0].group_key, "{}:{alertname=\"SyncStalled\"}");
  EXPECT_EQ(pending[1].group_key, "{}:{alertname=\"ProfileError\"}");
  EXPECT_EQ(pending[2].receiver, "other");
  // FIFO per receiver: the head's backoff holds the queue (the order of the
  // requests below shows ProfileError did not go first).
  Advance(seconds(1));
  ASSERT_TRUE(Eventually([&] { return Delivered("hooks") == 2; }));
  auto got = server.Requests();
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(nlohmann::json::parse(got[1].body)["groupLabels"]["alertname"], "SyncStalled");
  EXPECT_EQ(nlohmann::json::parse(got[2].body)["groupLabels"]["alertname"], "ProfileError");
}

TEST_F(OutboxTest, NotificationInFlightIsNotSupersededButDroppedIfItFails) {
  HttpReceiver server;
  server.Push(ScriptedResponse{503, {}, {}, {}, /*hold=*/true});
  Receivers({{"hooks", &server}});
  Enqueue(Make("hooks", "SyncStalled", {"account"}));
  ASSERT_TRUE(server.WaitForRequests(1));  // the first attempt is in flight now, held
  const Notification newer = Make("hooks", "SyncStalled", {"account", "contact"});
  Enqueue(newer);
  EXPECT_EQ(List("pending").size(), 2u);  // the one in flight was kept
  server.Release();                       // its 503 comes now
  ASSERT_TRUE(Eventually([&] { return Delivered("hooks") == 1; }));
  ASSERT_EQ(server.Count(), 2u);
  EXPECT_EQ(nlohmann::json::parse(server.Requests()[1].body), WebhookBody(newer));
  EXPECT_EQ(Failed("hooks", "serverError"), 1);
  EXPECT_TRUE(List("").empty());
}

TEST_F(OutboxTest, PendingRowsAreDeliveredAfterARestartInOrder) {
  // First life: no receivers yet, so nothing is attempted.
  Enqueue(Make("hooks", "SyncStalled"));
  Enqueue(Make("hooks", "ProfileError"));
  ASSERT_EQ(List("pending").size(), 2u);
  outbox_->Stop();
  Open();  // a new Outbox on the same file

  HttpReceiver server;
  Receivers({{"hooks", &server}});
  ASSERT_TRUE(Eventually([&] { return Delivered("hooks") == 2; }));
  auto got = server.Requests();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(nlohmann::json::parse(got[0].body)["groupLabels"]["alertname"], "SyncStalled");
  EXPECT_EQ(nlohmann::json::parse(got[1].body)["groupLabels"]["alertname"], "ProfileError");
  EXPECT_TRUE(List("").empty());
}

double WriteErrors(const prometheus::Registry& r) {
  return *fakes::MetricValue(r, "linkwatch_state_store_write_errors_total",
                             {{"operation", "outbox"}});
}

// Issue 7 point 11: with state.db deleted nothing is written into the unlinked
// file; rows queued before are still delivered, once each.
TEST_F(OutboxTest, LostStoreQueuesNothingAndDeliversQueuedRowsOnce) {
  HttpReceiver server;
  Receivers({{"hooks", &server}}, "", /*start=*/false);
  Enqueue(Make("hooks", "SyncStalled"));
  Enqueue(Make("hooks", "ProfileError"));
  std::filesystem::remove(dir_.File("state.db"));
  EXPECT_EQ(WriteErrors(registry_), 0);
  const Status s = outbox_->Enqueue({Make("hooks", "InitialSyncFailed")});
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("deleted"), std::string::npos) << s.message();
  EXPECT_EQ(WriteErrors(registry_), 1);

  outbox_->Start();
  ASSERT_TRUE(server.WaitForRequests(2));
  // Both deletions (one group commit) were refused and counted; the rows are
  // not sent again, and the deletion is tried again a second later.
  ASSERT_TRUE(Eventually([&] { return WriteErrors(registry_) >= 2; }));
  Advance(seconds(10));
  ASSERT_TRUE(Eventually([&] { return WriteErrors(registry_) >= 3; }));
  // Nothing left to send: the worker only waits to retry the deletion.
  ASSERT_TRUE(ParkedUntil(clock_.Now() + seconds(1)));
  EXPECT_EQ(server.Count(), 2u);
  EXPECT_EQ(server.Requests().size(), 2u);
}

// Issue 7 point 16: a writer holding the store does not stall Enqueue (the
// watcher's thread) for the 5 s default busy timeout; the failure is counted.
TEST_F(OutboxTest, LockedStoreMakesEnqueueFailFastAndCounted) {
  auto other = state::Db::Open(dir_.File("state.db"));
  ASSERT_TRUE(other.ok());
  ASSERT_TRUE((*other)->Exec("BEGIN IMMEDIATE; DELETE FROM linkwatch_nflog WHERE 0").ok());
  const auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(outbox_->Enqueue({Make("hooks", "SyncStalled")}).ok());
  EXPECT_LT(std::chrono::steady_clock::now() - start, seconds(2));
  EXPECT_EQ(WriteErrors(registry_), 1);
  ASSERT_TRUE((*other)->Exec("ROLLBACK").ok());
  Enqueue(Make("hooks", "SyncStalled"));  // the retry goes through
  EXPECT_EQ(List("pending").size(), 1u);
}

TEST_F(OutboxTest, SlowReceiverDoesNotBlockAnother) {
  HttpReceiver slow, fast;
  slow.SetDefault(ScriptedResponse{200, {}, {}, {}, /*hold=*/true});  // answers only when stopped
  Receivers({{"fast", &fast}, {"slow", &slow}});
  Enqueue(Make("slow", "SyncStalled"));
  ASSERT_TRUE(slow.WaitForRequests(1));
  Enqueue(Make("fast", "SyncStalled"));
  ASSERT_TRUE(fast.WaitForRequests(1));
  EXPECT_EQ(Delivered("slow"), 0);  // still waiting for its answer
  slow.Stop();                      // cut the slow answer short
  ASSERT_TRUE(Eventually([&] { return Failed("slow", "other") == 1; }));
}

TEST_F(OutboxTest, RateLimitWaitsForATokenWithoutFailing) {
  HttpReceiver server;
  Receivers({{"hooks", &server}}, "    rate_limit: {per_second: 1, burst: 1}\n");
  Enqueue(Make("hooks", "SyncStalled"));
  Enqueue(Make("hooks", "ProfileError"));
  ASSERT_TRUE(server.WaitForRequests(1));
  // Waiting for the next token (a second, rounded up to the clock's tick).
  ASSERT_TRUE(clock_.AwaitDeadline(testutil::T0() + seconds(1),
                                   testutil::T0() + seconds(1) + milliseconds(1)));
  EXPECT_EQ(server.Count(), 1u);
  EXPECT_EQ(Failed("hooks", "rateLimited"), 0);
  EXPECT_EQ(List("pending").at(0).attempts, 0);
  Advance(seconds(1) + milliseconds(1));
  ASSERT_TRUE(Eventually([&] { return Delivered("hooks") == 2; }));
}

TEST_F(OutboxTest, EnqueueAndTheCallersRowsCommitTogether) {
  // Configured but not started, so the row stays pending (and, being
  // configured, the receiver has a pending gauge).
  HttpReceiver server;
  Receivers({{"hooks", &server}}, "", /*start=*/false);
  Status s = outbox_->Enqueue({Make("hooks", "SyncStalled")}, [](state::Db& db) {
    return db.Exec("INSERT INTO no_such_table VALUES (1)");
  });
  EXPECT_FALSE(s.ok());
  EXPECT_TRUE(List("").empty());  // rolled back with the caller's write

  s = outbox_->Enqueue({Make("hooks", "SyncStalled")}, [](state::Db& db) {
    return db.Exec(
        "INSERT INTO linkwatch_nflog (receiver, group_key, firing, resolved, sent_at) "
        "VALUES ('hooks', 'g', '[]', '[]', 1)");
  });
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(List("pending").size(), 1u);
  int64_t rows = 0;
  ASSERT_TRUE(outbox_
                  ->WithDb([&](state::Db& db) -> Status {
                    auto st = db.Prepare("SELECT COUNT(*) FROM linkwatch_nflog");
                    if (!st.ok()) return st.status();
                    if (st->Step()) rows = st->Int(0);
                    return st->status();
                  })
                  .ok());
  EXPECT_EQ(rows, 1);
  EXPECT_EQ(Pending("hooks"), 1);
}

TEST_F(OutboxTest, RowsOfRemovedReceiversBecomeDeadLetters) {
  HttpReceiver server;
  Receivers({{"hooks", &server}});
  Enqueue(Make("gone", "SyncStalled"));
  Receivers({{"hooks", &server}});  // reload without "gone"
  auto dead = List("dead");
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0].receiver, "gone");
  EXPECT_EQ(dead[0].dead_reason, "receiverRemoved");
  EXPECT_FALSE(outbox_->List("bogus").ok());
}

TEST_F(OutboxTest, NothingIsSentBeforeStart) {
  HttpReceiver server;
  Receivers({{"hooks", &server}}, "", /*start=*/false);
  Enqueue(Make("hooks", "SyncStalled"));
  EXPECT_EQ(clock_.Waiters(), 0u);  // no worker thread before Start
  EXPECT_EQ(server.Count(), 0u);
  EXPECT_EQ(Pending("hooks"), 1);
  outbox_->Start();
  ASSERT_TRUE(Eventually([&] { return Delivered("hooks") == 1; }));
  outbox_->Start();  // idempotent
}

// A power cut right after Enqueue returned (tests/core/crash_vfs.h: the
// store's files go back to what was fsynced) loses no notification: each is
// sent after the restart, once.
TEST_F(OutboxTest, QueuedNotificationsSurviveAPowerCut) {
  faults::CrashVfs vfs(/*make_default=*/true);
  Open();  // the store's connection now does its I/O through the crash VFS
  HttpReceiver server;
  Receivers({{"hooks", &server}}, "", /*start=*/false);
  for (int i = 0; i < 5; ++i) Enqueue(Make("hooks", "Alert" + std::to_string(i)));
  vfs.Cut();
  outbox_.reset();  // the process is gone; its last writes reach nothing
  ASSERT_TRUE(vfs.Restore().ok());
  Open();
  EXPECT_EQ(List("pending").size(), 5u) << "every acknowledged Enqueue is on disk";
  Receivers({{"hooks", &server}});
  ASSERT_TRUE(server.WaitForRequests(5));
  ASSERT_TRUE(Eventually([&] { return Delivered("hooks") == 5; }));
  EXPECT_EQ(server.Count(), 5u);
  outbox_.reset();  // before the VFS it uses goes away
}

// Group commit (notifications.md, "Throughput"): deletions of delivered rows
// are written together once nothing else is due (or 64 of them, or after
// 10 ms), and a delivery is counted only once its deletion is written.
TEST_F(OutboxTest, DeliveriesAreRecordedTogetherAndCountedOnlyThen) {
  HttpReceiver server;
  for (int i = 0; i < 4; ++i) server.Push(200);
  ScriptedResponse held;
  held.hold = true;
  server.Push(held);
  Receivers({{"hooks", &server}}, "", /*start=*/false);
  for (int i = 0; i < 5; ++i) Enqueue(Make("hooks", "Alert" + std::to_string(i)));
  outbox_->Start();
  ASSERT_TRUE(server.WaitForRequests(5));  // four acknowledged, the fifth held
  // The clock stands still, so only "nothing else is due" would record them.
  EXPECT_EQ(Delivered("hooks"), 0);
  EXPECT_EQ(List("pending").size(), 5u) << "not recorded while the next one is sent";
  server.Release();
  ASSERT_TRUE(Eventually([&] { return Delivered("hooks") == 5; }));
  EXPECT_TRUE(List("").empty());
  EXPECT_EQ(Pending("hooks"), 0);
  EXPECT_EQ(server.Count(), 5u);
}

TEST_F(OutboxTest, TemplateErrorIsCountedOnceAndStillSent) {
  HttpReceiver server;
  Receivers({{"hooks", &server}});
  Notification n = Make("hooks", "SyncStalled", {"account", "contact"});
  n.alerts[1].template_error = true;
  n.alerts[1].annotations["summary"] = "template error: unknown column \"x\"";
  Enqueue(n);
  ASSERT_TRUE(Eventually([&] { return Delivered("hooks") == 1; }));
  EXPECT_EQ(Failed("hooks", "template"), 1);
  auto body = nlohmann::json::parse(server.Requests().at(0).body);
  EXPECT_EQ(body["alerts"][1]["annotations"]["summary"], n.alerts[1].annotations["summary"]);
}

// A receiver whose message template fails: it reports the failure with
// every attempt (first a 503, then success).
class TemplateFailing final : public Notifier {
 public:
  const std::string& integration() const override {
    static const std::string kName = "webhook";
    return kName;
  }
  SendResult Send(const Notification&) override {
    SendResult r = ++calls == 1 ? SendResult::Retry("serverError", "503") : SendResult::Ok();
    r.template_error = "title template: {{x}} names nothing";
    return r;
  }
  std::atomic<int> calls{0};
};

TEST_F(OutboxTest, AMessageTemplateErrorIsCountedOnceAcrossRetries) {
  auto notifier = std::make_shared<TemplateFailing>();
  ReceiverConfig rc;
  rc.name = "hooks";
  rc.integration = "webhook";
  rc.notifier = notifier;
  outbox_->SetReceivers({rc});
  outbox_->Start();
  Enqueue(Make("hooks", "SyncStalled"));
  ASSERT_TRUE(WaitForAttempts(1));
  Advance(options_.backoff.base);
  ASSERT_TRUE(Eventually([&] { return Delivered("hooks") == 1; }));
  EXPECT_EQ(notifier->calls, 2);
  EXPECT_EQ(Failed("hooks", "template"), 1);
  EXPECT_EQ(Failed("hooks", "serverError"), 1);
}

TEST_F(OutboxTest, ListJsonGivesTheApiFields) {
  HttpReceiver server;
  server.Push(400, {}, "nope");
  Receivers({{"hooks", &server}});
  Enqueue(Make("hooks", "SyncStalled"));
  ASSERT_TRUE(Eventually([&] { return List("dead").size() == 1; }));
  Enqueue(Make("nobody", "ProfileError"));  // no worker: stays pending

  nlohmann::json dead = outbox_->ListJson("dead");
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0]["receiver"], "hooks");
  EXPECT_EQ(dead[0]["group"], "{}:{alertname=\"SyncStalled\"}");
  EXPECT_EQ(dead[0]["state"], "dead");
  EXPECT_EQ(dead[0]["attempts"], 1);
  EXPECT_EQ(dead[0]["createdAt"], "2026-01-01T00:00:00Z");
  EXPECT_TRUE(dead[0]["nextAttempt"].is_null());
  EXPECT_EQ(dead[0]["lastError"], "clientError: HTTP 400: nope");
  EXPECT_EQ(dead[0]["deadReason"], "clientError");

  nlohmann::json pending = outbox_->ListJson("pending");
  ASSERT_EQ(pending.size(), 1u);
  EXPECT_EQ(pending[0]["receiver"], "nobody");
  EXPECT_EQ(pending[0]["attempts"], 0);
  EXPECT_EQ(pending[0]["nextAttempt"], "2026-01-01T00:00:00Z");
  EXPECT_TRUE(pending[0]["lastError"].is_null());
  EXPECT_TRUE(pending[0]["deadReason"].is_null());
  EXPECT_EQ(outbox_->ListJson("bogus"), nlohmann::json::array());
}

}  // namespace
// Issue 7 point 17: the counters of every configured receiver exist at 0
// (each documented reason) before any event; a removed receiver's pending
// gauge disappears on reload.
TEST_F(OutboxTest, CountersStartAtZeroAndRemovedReceiversLoseTheirGauge) {
  HttpReceiver a, b;
  Receivers({{"a", &a}, {"b", &b}}, "", /*start=*/false);
  const prometheus::Labels a_labels{{"receiver", "a"}, {"integration", "webhook"}};
  EXPECT_TRUE(Has("linkwatch_notifications_total", a_labels));
  for (const char* reason :
       {"clientError", "serverError", "authError", "rateLimited", "timeout", "template", "other"}) {
    auto labels = a_labels;
    labels["reason"] = reason;
    EXPECT_TRUE(Has("linkwatch_notifications_failed_total", labels)) << reason;
  }
  for (const char* reason : {"clientError", "authError", "expired"}) {
    auto labels = a_labels;
    labels["reason"] = reason;
    EXPECT_TRUE(Has("linkwatch_notifications_dead_total", labels)) << reason;
  }
  EXPECT_EQ(Delivered("a"), 0);
  EXPECT_TRUE(Has("linkwatch_outbox_pending", {{"receiver", "b"}}));
  Enqueue(Make("b", "G"));
  EXPECT_EQ(Pending("b"), 1);

  // Reload without b: its pending row becomes a dead letter and its gauge goes.
  Receivers({{"a", &a}}, "", /*start=*/false);
  EXPECT_TRUE(Has("linkwatch_outbox_pending", {{"receiver", "a"}}));
  EXPECT_FALSE(Has("linkwatch_outbox_pending", {{"receiver", "b"}}));
  EXPECT_EQ(List("dead").size(), 1u);
}

}  // namespace linkwatch::notifiers
