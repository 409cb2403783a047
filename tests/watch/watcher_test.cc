#include "agent/watch/watcher.h"

#include <gtest/gtest.h>
#include <prometheus/registry.h>

#include <condition_variable>
#include <filesystem>
#include <mutex>

#include "agent/state/state_store.h"
#include "agent/watch/local_source.h"
#include "agent/watch/state_source_registry.h"
#include "agent/watch/store_health.h"
#include "agent/watch/watch_metrics.h"
#include "notifiers/notifier_metrics.h"
#include "notifiers/outbox.h"
#include "notifiers/router.h"
#include "rules/rule_engine.h"
#include "rules/rule_file.h"
#include "rules/rules_metrics.h"
#include "tests/fakes/metric_value.h"

namespace linkwatch::watch {
namespace {

namespace fs = std::filesystem;

class WatcherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("lw_watch_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    state_path_ = (dir_ / "state.db").string();
    auto store = state::StateStore::Open(state_path_);
    ASSERT_TRUE(store.ok()) << store.message();
    store_ = std::move(store).value();
    clock_.Set(FromEpochSeconds(1767225600));  // 2026-01-01T00:00:00Z
  }
  void TearDown() override {
    other_.reset();
    watcher_.reset();
    router_.reset();
    engine_.reset();
    outbox_.reset();
    fs::remove_all(dir_);
  }

  void Build(const std::string& source_path, const std::string& rules) {
    std::vector<std::unique_ptr<StateSource>> sources;
    sources.push_back(std::make_unique<LocalSource>("local", source_path));
    BuildAround(std::move(sources), WatcherOptions{Millis(15000), Millis(60000)}, rules,
                CountingSnapshots());
  }
  // Callbacks that count the snapshots (snapshots_) and keep the last.
  WatcherCallbacks CountingSnapshots() {
    WatcherCallbacks callbacks;
    callbacks.snapshot = [this](const std::string&, std::shared_ptr<const state::Snapshot> s) {
      ++snapshots_;
      last_ = std::move(s);
    };
    return callbacks;
  }
  // The rule engine, outbox and router around `sources`, and the watcher.
  void BuildAround(std::vector<std::unique_ptr<StateSource>> sources, WatcherOptions options,
                   const std::string& rules, WatcherCallbacks callbacks) {
    engine_ = std::make_unique<RuleEngine>(LoadRuleString(rules, "rules.yaml", Millis(1000)),
                                           nullptr, rules_metrics_);
    auto outbox = notifiers::Outbox::Open(state_path_, clock_, notifier_metrics_);
    ASSERT_TRUE(outbox.ok()) << outbox.message();
    outbox_ = std::move(outbox).value();
    notifiers::RouteConfig route;
    route.receiver = "none";
    router_ = std::make_unique<notifiers::Router>(route, *outbox_, clock_, "http://x/",
                                                  notifiers::ReceiverDispatchMap{{"none", {}}});
    callbacks.sources = [this](const std::vector<SourceStatus>& list) { sources_ = list; };
    watcher_ = std::make_unique<Watcher>(options, std::move(sources), *engine_, *router_, clock_,
                                         metrics_, callbacks);
  }

  // The rule "Stalled: age(lastsynceddatatime) > 5s" over a table last synced
  // at the start (2026-01-01T00:00:00Z), written by another connection
  // (other_, kept open).
  void BuildWithATableSyncedAtTheStart() {
    Build(state_path_, R"(groups:
  - name: g
    rules:
      - alert: Stalled
        expr: age(lastsynceddatatime) > 5s
)");
    auto other = state::Db::Open(state_path_);
    ASSERT_TRUE(other.ok());
    other_ = std::move(other).value();
    ASSERT_TRUE(other_
                    ->Exec("INSERT INTO synapselinkprofileentitystate(entityname, "
                           "lastsynceddatatime) VALUES ('account', '2026-01-01T00:00:00Z')")
                    .ok());
  }

  std::vector<Alert> Firing(const std::string& name) {
    std::vector<Alert> out;
    for (const auto& a : engine_->Alerts()) {
      if (a.state == AlertState::kFiring && a.labels.at("alertname") == name) out.push_back(a);
    }
    return out;
  }

  fs::path dir_;
  std::string state_path_;
  std::unique_ptr<state::StateStore> store_;
  ManualClock clock_;
  // Each component counts into its own metrics, all on one registry.
  prometheus::Registry registry_;
  RulesMetrics rules_metrics_{registry_};
  notifiers::NotifierMetrics notifier_metrics_{registry_};
  WatchMetrics metrics_{registry_};
  std::unique_ptr<RuleEngine> engine_;
  std::unique_ptr<notifiers::Outbox> outbox_;
  std::unique_ptr<notifiers::Router> router_;
  std::unique_ptr<Watcher> watcher_;
  std::unique_ptr<state::Db> other_;
  int snapshots_ = 0;
  std::shared_ptr<const state::Snapshot> last_;
  std::vector<SourceStatus> sources_;
};

// A foreign state file with one profile in `profilestate` (2 = Error).
void WriteStateFile(const std::string& path, int profilestate) {
  auto db = state::Db::Open(path);
  ASSERT_TRUE(db.ok()) << db.message();
  ASSERT_TRUE((*db)
                  ->Exec("CREATE TABLE synapselinkprofile (synapselinkprofileid TEXT, name "
                         "TEXT, profilestate INTEGER); INSERT INTO synapselinkprofile VALUES "
                         "('6f1c0000-0000-4000-8000-000000000001', 'erp', " +
                         std::to_string(profilestate) + ")")
                  .ok());
}

constexpr const char* kProfileError = R"(groups:
  - name: g
    rules:
      - alert: ProfileError
        on: profile
        expr: profilestate == "Error"
)";

TEST_F(WatcherTest, ChangedRowIsEvaluatedWithoutWaitingForTheInterval) {
  Build(state_path_, kProfileError);
  watcher_->RunOnce();
  EXPECT_TRUE(watcher_->Ready());
  EXPECT_EQ(snapshots_, 1);
  watcher_->RunOnce();  // nothing changed, interval not reached: no poll
  EXPECT_EQ(snapshots_, 1);

  // Another connection commits: the next cycle sees it at once.
  auto other = state::Db::Open(state_path_);
  ASSERT_TRUE(other.ok());
  ASSERT_TRUE((*other)
                  ->Exec("INSERT INTO synapselinkprofile(name, profilestate) "
                         "VALUES ('crm', 2)")
                  .ok());
  watcher_->RunOnce();
  EXPECT_EQ(snapshots_, 2);
  ASSERT_EQ(Firing("ProfileError").size(), 1u);
  EXPECT_EQ(Firing("ProfileError")[0].labels.at("profile"), "crm");
  EXPECT_EQ(Firing("ProfileError")[0].labels.at("source"), "local");
}

TEST_F(WatcherTest, ALocalSourceWakesTheLoopWhenAnotherConnectionCommits) {
  // The agent's loop sleeps until `wake` (no timer): a commit by another
  // connection must call it, and the next cycle then sees the change.
  std::mutex mu;
  std::condition_variable cv;
  int wakes = 0;
  std::vector<std::unique_ptr<StateSource>> sources;
  sources.push_back(std::make_unique<LocalSource>("local", state_path_));
  WatcherCallbacks callbacks = CountingSnapshots();
  callbacks.wake = [&] {
    std::lock_guard<std::mutex> lock(mu);
    ++wakes;
    cv.notify_all();
  };
  BuildAround(std::move(sources), WatcherOptions{Millis(15000), Millis(60000)}, kProfileError,
              std::move(callbacks));
  watcher_->RunOnce();
  EXPECT_TRUE(watcher_->NotifiesChanges());
  EXPECT_EQ(snapshots_, 1);
  int before = 0;
  {
    std::lock_guard<std::mutex> lock(mu);
    before = wakes;
  }
  auto other = state::Db::Open(state_path_);
  ASSERT_TRUE(other.ok());
  ASSERT_TRUE(
      (*other)->Exec("INSERT INTO synapselinkprofile(name, profilestate) VALUES ('crm', 2)").ok());
  {
    std::unique_lock<std::mutex> lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(30), [&] { return wakes > before; }))
        << "the commit woke nobody";
  }
  watcher_->RunOnce();
  EXPECT_EQ(snapshots_, 2);
  EXPECT_EQ(Firing("ProfileError").size(), 1u);
}

TEST_F(WatcherTest, WithoutAWakeCallbackTheWatcherAsksToBeTicked) {
  Build(state_path_, kProfileError);
  watcher_->RunOnce();
  EXPECT_FALSE(watcher_->NotifiesChanges());
}

TEST_F(WatcherTest, PollsAgainAfterTheInterval) {
  Build(state_path_, kProfileError);
  watcher_->RunOnce();
  clock_.Advance(std::chrono::seconds(14));
  watcher_->RunOnce();
  EXPECT_EQ(snapshots_, 1);
  clock_.Advance(std::chrono::seconds(1));
  watcher_->RunOnce();
  EXPECT_EQ(snapshots_, 2);
  EXPECT_LE(watcher_->NextWakeup(), clock_.Now() + std::chrono::seconds(15));
}

TEST_F(WatcherTest, ConditionsThatBecomeTrueWithTimeFireBetweenPolls) {
  BuildWithATableSyncedAtTheStart();
  watcher_->RunOnce();
  EXPECT_TRUE(Firing("Stalled").empty());
  // The interval is 15 s; the condition holds from 5 s on. It is seen within
  // a tenth of the interval (1.5 s), without a new poll.
  clock_.Advance(std::chrono::milliseconds(4900));
  EXPECT_LE(watcher_->NextWakeup(), clock_.Now());
  watcher_->RunOnce();  // re-evaluated at 4.9 s: not yet
  EXPECT_TRUE(Firing("Stalled").empty());
  EXPECT_EQ(watcher_->NextWakeup(), clock_.Now() + std::chrono::milliseconds(1500));
  clock_.Advance(std::chrono::milliseconds(500));
  watcher_->RunOnce();  // 5.4 s: not due
  EXPECT_TRUE(Firing("Stalled").empty());
  clock_.Advance(std::chrono::milliseconds(1000));
  watcher_->RunOnce();  // 6.4 s
  EXPECT_EQ(Firing("Stalled").size(), 1u);
  EXPECT_EQ(snapshots_, 1);  // no new poll was needed
}

// A commit that leaves everything the rules read as it was (the agent's own
// outbox and notification log share the store) is polled but not evaluated,
// and does not push the interval's poll back; a real change still is.
TEST_F(WatcherTest, ACommitThatChangesNoWatchedDataEvaluatesNothing) {
  Build(state_path_, kProfileError);
  watcher_->RunOnce();
  EXPECT_EQ(snapshots_, 1);
  auto other = state::Db::Open(state_path_);
  ASSERT_TRUE(other.ok());
  const auto log_row = [&](int i) {
    ASSERT_TRUE((*other)
                    ->Exec("INSERT OR REPLACE INTO linkwatch_nflog VALUES ('hooks', 'g', '[]', "
                           "'[]', " +
                           std::to_string(i) + ")")
                    .ok());
  };
  clock_.Advance(std::chrono::seconds(5));
  log_row(1);
  watcher_->RunOnce();
  EXPECT_EQ(snapshots_, 1) << "the same data is not evaluated again";
  ASSERT_TRUE(
      (*other)->Exec("INSERT INTO synapselinkprofile(name, profilestate) VALUES ('crm', 2)").ok());
  watcher_->RunOnce();
  EXPECT_EQ(snapshots_, 2);
  EXPECT_EQ(Firing("ProfileError").size(), 1u);
  clock_.Advance(std::chrono::seconds(15));
  log_row(2);
  watcher_->RunOnce();  // due by the interval: evaluated though nothing changed
  EXPECT_EQ(snapshots_, 3);
}

// The outbox's own commits (StateSource::SetOwnWriter) do not ask for a poll
// of the state store; any other connection's commit does, even when the
// outbox commits after it; a file other than the state store ignores it.
TEST_F(WatcherTest, TheOutboxsOwnCommitsDoNotAskForAPoll) {
  auto outbox = notifiers::Outbox::Open(state_path_, clock_, notifier_metrics_);
  ASSERT_TRUE(outbox.ok()) << outbox.message();
  const auto outbox_commit = [&](int i) {
    Status s = (*outbox)->WithDb([&](state::Db& db) {
      return db.Exec("INSERT OR REPLACE INTO linkwatch_nflog VALUES ('hooks', 'g', '[]', '[]', " +
                     std::to_string(i) + ")");
    });
    ASSERT_TRUE(s.ok()) << s.message();
  };
  auto other = state::Db::Open(state_path_);
  ASSERT_TRUE(other.ok());
  LocalSource source("local", state_path_, /*state_store=*/true);
  LocalSource file("file", state_path_);  // the same file, watched as a foreign one
  for (LocalSource* s : {&source, &file}) {
    s->SetOwnWriter([&] { return (*outbox)->OthersVersion(); });
    ASSERT_TRUE(s->Poll().ok());
    EXPECT_FALSE(s->Changed());
  }
  outbox_commit(1);
  EXPECT_FALSE(source.Changed()) << "the outbox's own commit";
  EXPECT_TRUE(file.Changed());
  ASSERT_TRUE((*other)->Exec("INSERT INTO synapselinkprofile(name) VALUES ('crm')").ok());
  outbox_commit(2);
  EXPECT_TRUE(source.Changed()) << "another connection committed before the outbox";
  EXPECT_TRUE(source.Changed()) << "until polled";
  auto snap = source.Poll();
  ASSERT_TRUE(snap.ok());
  EXPECT_EQ((**snap)[state::TableId::kProfile].rows.size(), 1u);
  EXPECT_FALSE(source.Changed());
  outbox_commit(3);
  EXPECT_FALSE(source.Changed());
}

// Commits that change nothing watched, one before every cycle, do not keep
// time conditions from being re-evaluated between polls.
TEST_F(WatcherTest, TimeConditionsFireWhileUnrelatedCommitsKeepComing) {
  BuildWithATableSyncedAtTheStart();
  watcher_->RunOnce();
  for (int i = 0; i < 70 && Firing("Stalled").empty(); ++i) {
    clock_.Advance(std::chrono::milliseconds(100));
    ASSERT_TRUE(other_
                    ->Exec("INSERT OR REPLACE INTO linkwatch_nflog VALUES ('hooks', 'g', '[]', "
                           "'[]', " +
                           std::to_string(i) + ")")
                    .ok());
    watcher_->RunOnce();
  }
  EXPECT_EQ(Firing("Stalled").size(), 1u);
  // Seen within a tenth of the interval of the crossing at 5 s.
  EXPECT_LE(clock_.Now(), FromEpochSeconds(1767225600) + std::chrono::milliseconds(6600));
  EXPECT_EQ(snapshots_, 1);
}

TEST_F(WatcherTest, RulesThatDoNotDependOnTimeAreNotReevaluated) {
  Build(state_path_, kProfileError);
  watcher_->RunOnce();
  EXPECT_EQ(watcher_->NextWakeup(), clock_.Now() + std::chrono::seconds(15));
}

TEST_F(WatcherTest, UnreachableSourceFiresSourceUnreachableAfterTheConfiguredTime) {
  Build((dir_ / "missing.db").string(), kProfileError);
  watcher_->RunOnce();
  EXPECT_FALSE(watcher_->Ready());
  EXPECT_TRUE(Firing("SourceUnreachable").empty());  // pending for source_unreachable_for
  for (int i = 0; i < 4; ++i) {
    clock_.Advance(std::chrono::seconds(15));
    watcher_->RunOnce();
  }
  auto firing = Firing("SourceUnreachable");
  ASSERT_EQ(firing.size(), 1u);
  EXPECT_EQ(firing[0].labels.at("source"), "local");
  EXPECT_EQ(firing[0].labels.at("severity"), "critical");

  // The file appears (e.g. the volume is back): the alert resolves.
  fs::copy_file(state_path_, dir_ / "missing.db");
  clock_.Advance(std::chrono::seconds(15));
  watcher_->RunOnce();
  EXPECT_TRUE(watcher_->Ready());
  EXPECT_TRUE(Firing("SourceUnreachable").empty());
}

TEST_F(WatcherTest, ReadsForeignFilesWithOnlySomeColumns) {
  const std::string foreign = (dir_ / "foreign.db").string();
  {
    auto db = state::Db::Open(foreign);
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE((*db)
                    ->Exec("CREATE TABLE synapselinkprofile (synapselinkprofileid TEXT, name "
                           "TEXT, profilestate INTEGER); INSERT INTO synapselinkprofile "
                           "VALUES ('6f1c0000-0000-4000-8000-000000000001', 'erp', 2)")
                    .ok());
  }
  Build(foreign, kProfileError);
  watcher_->RunOnce();
  ASSERT_EQ(Firing("ProfileError").size(), 1u);
  EXPECT_EQ(Firing("ProfileError")[0].labels.at("profile"), "erp");
}

// Issue 7 point 10: the watcher kept reading the unlinked file after
// `mv new.db watched.db`.
TEST_F(WatcherTest, FileReplacedByRenameIsReopenedAndPolledAtOnce) {
  const std::string watched = (dir_ / "watched.db").string();
  WriteStateFile(watched, 1);
  Build(watched, kProfileError);
  watcher_->RunOnce();
  EXPECT_TRUE(Firing("ProfileError").empty());
  const int polls = snapshots_;

  WriteStateFile((dir_ / "new.db").string(), 2);
  fs::rename(dir_ / "new.db", watched);
  watcher_->RunOnce();  // no time passed: the swap alone triggers the poll
  EXPECT_EQ(snapshots_, polls + 1);
  ASSERT_EQ(Firing("ProfileError").size(), 1u);
  ASSERT_EQ(sources_.size(), 1u);
  EXPECT_TRUE(sources_[0].up);
}

// ... and after `rm watched.db; cp new.db watched.db`.
TEST_F(WatcherTest, FileRemovedThenCopiedIsReopened) {
  const std::string watched = (dir_ / "watched.db").string();
  WriteStateFile(watched, 1);
  Build(watched, kProfileError);
  watcher_->RunOnce();
  WriteStateFile((dir_ / "new.db").string(), 2);

  fs::remove(watched);
  watcher_->RunOnce();  // noticed at once: the source is down
  ASSERT_EQ(sources_.size(), 1u);
  EXPECT_FALSE(sources_[0].up);
  EXPECT_NE(sources_[0].last_error.find("does not exist"), std::string::npos)
      << sources_[0].last_error;
  watcher_->RunOnce();  // still missing: no poll on every tick
  EXPECT_EQ(sources_[0].last_poll, ToEpochSeconds(clock_.Now()));

  fs::copy_file(dir_ / "new.db", watched);
  watcher_->RunOnce();  // the file is back: polled at once, without the interval
  EXPECT_TRUE(sources_[0].up);
  ASSERT_EQ(Firing("ProfileError").size(), 1u);
}

TEST_F(WatcherTest, DeletedFileMakesTheSourceUnreachable) {
  const std::string watched = (dir_ / "watched.db").string();
  WriteStateFile(watched, 1);
  Build(watched, kProfileError);
  watcher_->RunOnce();
  fs::remove(watched);
  for (int i = 0; i < 5; ++i) {
    watcher_->RunOnce();
    clock_.Advance(std::chrono::seconds(15));
  }
  watcher_->RunOnce();
  ASSERT_EQ(Firing("SourceUnreachable").size(), 1u);
  EXPECT_FALSE(sources_[0].up);
}

// Issue 7 point 11: the agent's own state.db deleted while running.
TEST_F(WatcherTest, StoreHealthReportsADeletedStore) {
  StoreHealth health(store_->db(), metrics_);
  health.Check();
  EXPECT_TRUE(health.up());
  EXPECT_EQ(health.error(), "");
  EXPECT_EQ(fakes::MetricValue(registry_, "linkwatch_state_store_up", {}), 1);
  fs::remove(state_path_);
  health.Check();
  EXPECT_FALSE(health.up());
  EXPECT_NE(health.error().find("state store lost"), std::string::npos) << health.error();
  EXPECT_NE(health.error().find("deleted"), std::string::npos) << health.error();
  EXPECT_EQ(fakes::MetricValue(registry_, "linkwatch_state_store_up", {}), 0);
  // A file at the path again does not make the lost connection good.
  WriteStateFile(state_path_, 1);
  health.Check();
  EXPECT_FALSE(health.up());
}

// Issue 7 points 13, 15 and 17: a choice holding 2.5 is no valid code: the
// rules see null (so InProgress does not fire), the value is counted at
// every poll, and the poll counters exist at 0 before the first poll.
TEST_F(WatcherTest, InvalidValuesReadAsNullForRulesAndAreCountedEveryPoll) {
  ASSERT_TRUE(
      store_->db()
          .Exec("INSERT INTO synapselinkprofileentitystate(entityname, syncstate, "
                "lakerecordcount) VALUES ('a', 2.5, '12abc'), ('b', 2, 9223372036854775807)")
          .ok());
  Build(state_path_, R"(groups:
  - name: g
    rules:
      - alert: InProgress
        expr: syncstate == "InProgress"
      - alert: Huge
        expr: lakerecordcount > 9e18
)");
  EXPECT_EQ(fakes::MetricValue(registry_, "linkwatch_watch_polls_total", {{"source", "local"}}), 0);
  EXPECT_EQ(
      fakes::MetricValue(registry_, "linkwatch_watch_poll_errors_total", {{"source", "local"}}), 0);
  for (int i = 0; i < 3; ++i) {
    watcher_->RunOnce();
    clock_.Advance(std::chrono::seconds(15));
  }
  ASSERT_EQ(Firing("InProgress").size(), 1u);
  EXPECT_EQ(Firing("InProgress")[0].labels.at("entity"), "b");
  ASSERT_EQ(Firing("Huge").size(), 1u);
  EXPECT_EQ(Firing("Huge")[0].labels.at("entity"), "b");
  EXPECT_EQ(fakes::MetricValue(registry_, "linkwatch_watch_polls_total", {{"source", "local"}}), 3);
  EXPECT_EQ(fakes::MetricValue(registry_, "linkwatch_watch_invalid_values_total",
                               {{"source", "local"},
                                {"table", "synapselinkprofileentitystate"},
                                {"column", "syncstate"}}),
            3);
}

// A watch source of a type the binary does not know, registered in this
// test's own registry: the config loader validates its block through the
// registry, the registry builds it, and the watcher polls it like any
// other. What it returns is scripted by the test.
struct Script {
  std::shared_ptr<const state::Snapshot> next;  // what the next Poll returns
  bool fail = false;                            // Poll fails (unreachable)
  bool changed = false;                         // what Changed() says
  int polls = 0;
  std::string greeting;  // read from the block, to show the factory saw it
};

class ScriptedSource : public StateSource {
 public:
  ScriptedSource(std::string name, Script& script) : name_(std::move(name)), script_(script) {}
  const std::string& name() const override { return name_; }
  Result<std::shared_ptr<const state::Snapshot>> Poll() override {
    ++script_.polls;
    script_.changed = false;
    if (script_.fail) return Status::Error("scripted: the source is down");
    return script_.next;
  }
  bool Changed() override { return script_.changed; }

 private:
  std::string name_;
  Script& script_;
};

class WatcherWithFakeSourceTest : public WatcherTest {
 protected:
  void SetUp() override {
    WatcherTest::SetUp();
    watch_sources_.Register(
        "scripted",
        [this](const YAML::Node& spec, const BlockContext& ctx) -> std::unique_ptr<StateSource> {
          if (!ctx.CheckKeys(spec, {"greeting"})) return nullptr;
          if (!spec["greeting"]) {
            ctx.problems.Add(spec, "scripted source " + ctx.name + " needs a greeting");
            return nullptr;
          }
          script_.greeting = spec["greeting"].Scalar();
          return std::make_unique<ScriptedSource>(ctx.name, script_);
        });
  }

  Config Load(const std::string& watch_yaml) {
    return ParseConfig("state_db: state.db\nwatch:\n" + watch_yaml, (dir_ / "lw.yaml").string(),
                       ConfigTypes{nullptr, nullptr, &watch_sources_});
  }
  std::vector<std::string> ProblemsOf(const std::string& watch_yaml) {
    try {
      Load(watch_yaml);
    } catch (const InputError& e) {
      std::vector<std::string> out;
      for (const auto& p : e.problems()) out.push_back(p.ToString());
      return out;
    }
    return {};
  }
  // The state store's rows now, as the scripted source's next answer.
  void ScriptRows(const std::string& sql) {
    ASSERT_TRUE(store_->db().Exec(sql).ok());
    auto snap = store_->Read();
    ASSERT_TRUE(snap.ok()) << snap.message();
    script_.next = std::make_shared<const state::Snapshot>(std::move(snap).value());
    script_.changed = true;
  }
  void BuildWith(const Config& config, const std::string& rules) {
    auto sources = watch_sources_.BuildAll(config);
    ASSERT_TRUE(sources.ok()) << sources.message();
    BuildAround(std::move(sources).value(),
                WatcherOptions{config.watch.interval, config.watch.source_unreachable_for}, rules,
                {});
  }

  StateSourceRegistry watch_sources_;
  Script script_;
};

TEST_F(WatcherWithFakeSourceTest, TheLoaderReportsTheFactorysProblemsWithPositions) {
  EXPECT_EQ(ProblemsOf("  sources:\n    - {name: s, type: scripted, greting: hi}\n"),
            (std::vector<std::string>{
                (dir_ / "lw.yaml").string() +
                    ":4:33: unknown key \"greting\" in watch source (did you mean \"greeting\"?)",
                (dir_ / "lw.yaml").string() + ":4:7: scripted source s needs a greeting"}));
  EXPECT_EQ(ProblemsOf("  sources:\n    - {name: s, type: local}\n"),
            (std::vector<std::string>{(dir_ / "lw.yaml").string() +
                                      ":4:23: unknown watch source type \"local\" (scripted)"}))
      << "only what this registry holds";
}

TEST_F(WatcherWithFakeSourceTest, AFakeSourceIsPolledAndItsRowsEvaluated) {
  const Config config = Load(
      "  interval: 15s\n  source_unreachable_for: 30s\n"
      "  sources:\n    - {name: erp, type: scripted, greeting: hello}\n");
  EXPECT_EQ(script_.greeting, "hello");
  ScriptRows("INSERT INTO synapselinkprofile(name, profilestate) VALUES ('crm', 2)");
  BuildWith(config, kProfileError);
  watcher_->RunOnce();
  EXPECT_TRUE(watcher_->Ready());
  EXPECT_EQ(script_.polls, 1);
  ASSERT_EQ(Firing("ProfileError").size(), 1u);
  EXPECT_EQ(Firing("ProfileError")[0].labels.at("source"), "erp");

  // Nothing changed and the interval has not passed: not polled.
  watcher_->RunOnce();
  EXPECT_EQ(script_.polls, 1);
  // The source says it changed: polled at once, not after the interval.
  ScriptRows("INSERT INTO synapselinkprofile(name, profilestate) VALUES ('hr', 2)");
  watcher_->RunOnce();
  EXPECT_EQ(script_.polls, 2);
  EXPECT_EQ(Firing("ProfileError").size(), 2u);

  // It goes down: unreachable after source_unreachable_for, on the clock.
  script_.fail = true;
  clock_.Advance(std::chrono::seconds(15));
  watcher_->RunOnce();
  ASSERT_EQ(sources_.size(), 1u);
  EXPECT_FALSE(sources_[0].up);
  EXPECT_EQ(sources_[0].last_error, "scripted: the source is down");
  EXPECT_TRUE(Firing("SourceUnreachable").empty());
  for (int i = 0; i < 2; ++i) {
    clock_.Advance(std::chrono::seconds(15));
    watcher_->RunOnce();
  }
  ASSERT_EQ(Firing("SourceUnreachable").size(), 1u);
  EXPECT_EQ(Firing("SourceUnreachable")[0].labels.at("source"), "erp");
}

TEST(WatchSourceRegistryTest, BuiltinHoldsLocalAndValidatesDataverse) {
  const auto& r = StateSourceRegistry::Builtin();
  EXPECT_EQ(r.Types(), (std::vector<std::string>{"local", "dataverse"}));
  EXPECT_TRUE(r.Runs("local"));
  EXPECT_TRUE(r.Runs("dataverse"));
  const ConfigTypes types{nullptr, nullptr, &r};
  try {
    ParseConfig("state_db: s.db\nwatch:\n  sources:\n    - {name: d, type: dataverse, url: u}\n",
                "/c.yaml", types);
    FAIL() << "no problems";
  } catch (const InputError& e) {
    std::vector<std::string> got;
    for (const auto& p : e.problems()) got.push_back(p.ToString());
    EXPECT_EQ(got,
              (std::vector<std::string>{
                  "/c.yaml:4:39: watch source d: url must be an http(s) URL, e.g. "
                  "https://contoso.crm.dynamics.com",
                  "/c.yaml:4:7: watch source d needs tenant_id",
                  "/c.yaml:4:7: watch source d needs client_id",
                  "/c.yaml:4:7: watch source d needs client_secret"}));
  }
  // A local source without a path watches the state store.
  const Config c =
      ParseConfig("state_db: s.db\nwatch: {sources: [{name: l, type: local}]}\n", "/c.yaml", types);
  auto built = r.BuildAll(c);
  ASSERT_TRUE(built.ok()) << built.message();
  ASSERT_EQ(built->size(), 1u);
  EXPECT_EQ((*built)[0]->name(), "l");
  EXPECT_TRUE((*built)[0]->CheckReadable().ok()) << "the state store is checked as such";
}

}  // namespace
}  // namespace linkwatch::watch
