// Power cuts under the lake writer (tests/core/fault_injection_env.h): after
// a cut at any point of a batch and a restart from what the engine had
// stored (the marker of the last batch whose state commit happened), the
// table reopens without a break, the replayed batch is written exactly once,
// and the lake reads (lake_verify.h) as the source: in place and append
// only. A write failing or cut short mid-batch is the same as a cut there.
// What the writer removes (pruned snapshots, partitions cut back at open)
// does not come back after a cut.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "agent/core/files.h"
#include "agent/sync/destinations/lake.h"
#include "agent/sync/destinations/lake_verify.h"
#include "tests/core/fault_injection_env.h"

namespace linkwatch::sync {
namespace {

namespace fs = std::filesystem;
using linkwatch::faults::FaultInjectionEnv;

// One change of the source: an upsert (name, createdon) or a delete.
struct Change {
  std::string id;
  std::string name;  // "" with deleted
  std::string created;
  bool deleted = false;
};

// Where the test cuts the power.
enum class Cut {
  kAfterCommit,         // the batch committed; the engine did not store its marker
  kAfterStore,          // the batch committed and its marker was stored
  kMidBatchWrite,       // a partition write failed (the disk filled) mid-commit
  kMidBatchShortWrite,  // a partition write was cut short mid-commit
  kMidBatchRename,      // a partition rename failed mid-commit
};

struct Param {
  bool append_only;
  Cut cut;
};

std::string Name(const ::testing::TestParamInfo<Param>& info) {
  static const char* cuts[] = {"AfterCommit", "AfterStore", "MidBatchWrite", "MidBatchShortWrite",
                               "MidBatchRename"};
  return std::string(info.param.append_only ? "AppendOnly" : "InPlace") +
         cuts[static_cast<int>(info.param.cut)];
}

class LakePowerCutTest : public ::testing::TestWithParam<Param> {
 protected:
  void SetUp() override {
    std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::replace(name.begin(), name.end(), '/', '_');
    dir_ = fs::temp_directory_path() / ("lw_lake_cut_" + std::to_string(::getpid()) + "_" + name);
    fs::remove_all(dir_);
    fs::create_directories(dir_);  // durable: made before the Env tracks anything
    schema_.name = "account";
    schema_.columns = {{"accountid", ValueType::kString, "TEXT", false},
                       {"name", ValueType::kString, "TEXT", false},
                       {"createdon", ValueType::kDateTime, "DATETIME", false}};
    schema_.key = 0;
    schema_.createdon = 2;
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string Lake() const { return (dir_ / "lake").string(); }

  // Opens the table with `marker` through `env` (a restart when the
  // previous writer and destination are gone).
  Result<std::unique_ptr<TableWriter>> Open(Env& env, const std::string& marker) {
    writer_.reset();
    lake_.reset();
    auto lake = LakeDestination::Open(Lake(), env);
    if (!lake) return lake.status();
    lake_ = std::move(lake).value();
    lake_->move_grace = std::chrono::milliseconds(0);
    TableOptions options;
    options.append_only = GetParam().append_only;
    return lake_->OpenTable(schema_, options, marker);
  }

  // Writes one batch; applies it to the source model when it commits.
  Result<BatchResult> Batch(TableWriter& w, bool initial, const std::vector<Change>& changes) {
    if (auto s = w.Begin(initial, now_); !s.ok()) return s;
    for (const Change& c : changes) {
      std::vector<Value> values = {{Value::Kind::kText, 0, 0, c.id},
                                   {Value::Kind::kText, 0, 0, c.name},
                                   {Value::Kind::kText, 0, 0, c.created}};
      RowView r;
      r.version = ++version_;
      r.deleted = c.deleted;
      r.created = !source_.count(c.id);
      r.key = values[0];
      if (!c.deleted) r.values = values;
      if (auto s = w.Put(r); !s.ok()) return s;
    }
    now_ += 60;
    return w.Commit();
  }
  void Apply(const std::vector<Change>& changes) {
    for (const Change& c : changes) {
      if (c.deleted) {
        source_.erase(c.id);
      } else {
        source_[c.id] = c.name;
      }
    }
  }

  // The lake as a reader sees it equals the source: every live Id once,
  // with the source's name; no duplicate row; nothing inconsistent.
  void ExpectLakeIsSource() {
    auto report = VerifyLake(Lake());
    ASSERT_TRUE(report.ok()) << report.message();
    for (const auto& p : report->problems) ADD_FAILURE() << p;
    const TableReport* table = report->Find("account");
    ASSERT_NE(table, nullptr);
    EXPECT_EQ(table->duplicates, 0);
    std::map<std::string, std::string> lake;
    for (const auto& [id, record] : table->state) {
      lake[id] = record.fields.size() > 4 ? record.fields[4] : "<short>";
    }
    EXPECT_EQ(lake, source_);
  }

  fs::path dir_;
  TableSchema schema_;
  std::unique_ptr<LakeDestination> lake_;
  std::unique_ptr<TableWriter> writer_;
  std::map<std::string, std::string> source_;  // id -> name
  int64_t version_ = 0;
  double now_ = 1767225600;  // 2026-01-01
};

TEST_P(LakePowerCutTest, NothingCommittedIsLostAndTheReplayIsWrittenOnce) {
  FaultInjectionEnv env;
  const std::vector<Change> load = {{"a1", "Contoso", "2024-03-01T10:00:00Z"},
                                    {"a2", "Fabrikam", "2024-04-01T10:00:00Z"},
                                    {"a3", "Northwind", "2025-04-01T10:00:00Z"},
                                    {"a4", "Litware", "2025-05-01T10:00:00Z"}};
  // Updates, a record moving between partitions (createdon changed), a new
  // partition, an insert and a delete.
  const std::vector<Change> batch = {{"a1", "Contoso 2", "2024-03-01T10:00:00Z"},
                                     {"a2", "Fabrikam", "2025-01-01T10:00:00Z"},
                                     {"a5", "Adventure", "2026-02-01T10:00:00Z"},
                                     {"a3", "", "", true}};
  auto w = Open(env, "");
  ASSERT_TRUE(w.ok()) << w.message();
  auto loaded = Batch(**w, true, load);
  ASSERT_TRUE(loaded.ok()) << loaded.message();
  Apply(load);
  std::string stored = loaded->marker;  // what the engine stored with the cursor
  // A first incremental batch, committed and stored, so that the cut
  // happens to a table with incremental history.
  const std::vector<Change> first = {{"a4", "Litware 2", "2025-05-01T10:00:00Z"}};
  auto r1 = Batch(**w, false, first);
  ASSERT_TRUE(r1.ok()) << r1.message();
  Apply(first);
  stored = r1->marker;

  const Cut cut = GetParam().cut;
  if (cut == Cut::kMidBatchWrite || cut == Cut::kMidBatchShortWrite) {
    // The partition that gains a5 is written after the others.
    env.FailNext(FaultInjectionEnv::Op::kWrite, "2026.csv",
                 cut == Cut::kMidBatchShortWrite ? std::optional<size_t>(7) : std::nullopt);
  } else if (cut == Cut::kMidBatchRename) {
    env.FailNext(
        GetParam().append_only ? FaultInjectionEnv::Op::kSync : FaultInjectionEnv::Op::kRename,
        "2024.csv");
  }
  auto r2 = Batch(**w, false, batch);
  if (cut == Cut::kAfterCommit || cut == Cut::kAfterStore) {
    ASSERT_TRUE(r2.ok()) << r2.message();
    if (cut == Cut::kAfterStore) {
      stored = r2->marker;
      Apply(batch);
    }
  } else {
    ASSERT_FALSE(r2.ok()) << "the injected fault fails the commit";
    ASSERT_EQ(env.failures(), 1);
  }
  // The process dies with the power: every file is closed, then the cut.
  w->reset();
  lake_.reset();
  ASSERT_TRUE(env.PowerCut().ok());

  // Restart from what the engine had stored.
  auto reopened = Open(env, stored);
  ASSERT_TRUE(reopened.ok()) << "no break after a power cut: " << reopened.message();
  if (cut != Cut::kAfterStore) {
    auto replay = Batch(**reopened, false, batch);  // replayed from the stored cursor
    ASSERT_TRUE(replay.ok()) << replay.message();
    Apply(batch);
  }
  reopened->reset();
  lake_.reset();
  ExpectLakeIsSource();
}

INSTANTIATE_TEST_SUITE_P(
    Cuts, LakePowerCutTest,
    ::testing::Values(Param{false, Cut::kAfterCommit}, Param{false, Cut::kAfterStore},
                      Param{false, Cut::kMidBatchWrite}, Param{false, Cut::kMidBatchShortWrite},
                      Param{false, Cut::kMidBatchRename}, Param{true, Cut::kAfterCommit},
                      Param{true, Cut::kAfterStore}, Param{true, Cut::kMidBatchWrite},
                      Param{true, Cut::kMidBatchShortWrite}, Param{true, Cut::kMidBatchRename}),
    Name);

// What the writer removes stays removed across a power cut: the folder
// that lost the file is fsynced.
using LakeRemovalPowerCutTest = LakePowerCutTest;

TEST_P(LakeRemovalPowerCutTest, PrunedSnapshotsDoNotComeBack) {
  FaultInjectionEnv env;
  const std::vector<Change> load = {{"a1", "Contoso", "2024-03-01T10:00:00Z"},
                                    {"a2", "Fabrikam", "2025-04-01T10:00:00Z"}};
  auto w = Open(env, "");
  ASSERT_TRUE(w.ok()) << w.message();
  auto loaded = Batch(**w, true, load);
  ASSERT_TRUE(loaded.ok()) << loaded.message();
  ASSERT_TRUE((*w)->Snapshot(now_, 1).ok());
  ASSERT_TRUE((*w)->Snapshot(now_ + 1, 1).ok());  // keeps 1: prunes the first
  auto snapshots = [&] {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(dir_ / "lake" / "account" / "Snapshot")) {
      names.push_back(e.path().filename().string());
    }
    std::sort(names.begin(), names.end());
    return names;
  };
  const std::vector<std::string> kept = {"2024_20260101T000101Z.csv", "2025_20260101T000101Z.csv"};
  ASSERT_EQ(snapshots(), kept);
  w->reset();
  lake_.reset();
  ASSERT_TRUE(env.PowerCut().ok());
  EXPECT_EQ(snapshots(), kept) << "a pruned snapshot came back after the power cut";
}

TEST_P(LakeRemovalPowerCutTest, PartitionCutBackAtOpenDoesNotComeBack) {
  if (!GetParam().append_only) GTEST_SKIP() << "only an append-only table is cut back at open";
  FaultInjectionEnv env;
  const std::vector<Change> load = {{"a1", "Contoso", "2024-03-01T10:00:00Z"}};
  auto w = Open(env, "");
  ASSERT_TRUE(w.ok()) << w.message();
  auto loaded = Batch(**w, true, load);
  ASSERT_TRUE(loaded.ok()) << loaded.message();
  Apply(load);
  const std::string stored = loaded->marker;
  // A batch that starts partition 2026 commits; the process dies before the
  // engine stores its marker.
  auto r1 = Batch(**w, false, {{"a2", "Fabrikam", "2026-02-01T10:00:00Z"}});
  ASSERT_TRUE(r1.ok()) << r1.message();
  const fs::path partition = dir_ / "lake" / "account" / "2026.csv";
  ASSERT_TRUE(fs::exists(partition));
  w->reset();
  lake_.reset();

  // The restart removes 2026, whose rows are replayed; meanwhile the source
  // moved a2 to 2024, so the replay writes no 2026 again.
  auto reopened = Open(env, stored);
  ASSERT_TRUE(reopened.ok()) << reopened.message();
  ASSERT_FALSE(fs::exists(partition));
  const std::vector<Change> replay = {{"a2", "Fabrikam", "2024-02-01T10:00:00Z"}};
  auto r2 = Batch(**reopened, false, replay);
  ASSERT_TRUE(r2.ok()) << r2.message();
  Apply(replay);
  reopened->reset();
  lake_.reset();
  ASSERT_TRUE(env.PowerCut().ok());
  EXPECT_FALSE(fs::exists(partition)) << "a partition cut back at open came back";
  ExpectLakeIsSource();
}

INSTANTIATE_TEST_SUITE_P(Removals, LakeRemovalPowerCutTest,
                         ::testing::Values(Param{false, Cut::kAfterStore},
                                           Param{true, Cut::kAfterStore}),
                         Name);

// The lake-wide choice files (OptionsetMetadata/*.csv) hold every table's
// rows: a rewrite cut by a power loss leaves the old file whole, never half
// of it; a file corrupted by hand is written again from the tables.
class ChoiceFilesPowerCutTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("lw_choice_cut_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  Status Open(Env& env) {
    lake_.reset();
    auto lake = LakeDestination::Open((dir_ / "lake").string(), env);
    if (!lake) return lake.status();
    lake_ = std::move(lake).value();
    return Status::Ok();
  }
  static lake::ChoiceRows Rows(const std::string& table, const std::string& label) {
    lake::ChoiceRows rows;
    rows[0] = table + ",industrycode,1,False,1033," + label + "\n";
    return rows;
  }
  std::string File() {
    auto text = ReadFile((dir_ / "lake" / "OptionsetMetadata" / "OptionsetMetadata.csv").string());
    return text.ok() ? *text : "<" + text.message() + ">";
  }

  fs::path dir_;
  std::unique_ptr<LakeDestination> lake_;
};

TEST_F(ChoiceFilesPowerCutTest, ARewriteIsWholeOrNotAtAllAndACorruptFileIsRebuilt) {
  FaultInjectionEnv env;
  ASSERT_TRUE(Open(env).ok());
  ASSERT_TRUE(lake_->PutChoiceRows("account", Rows("account", "Accounting")).ok());
  ASSERT_TRUE(lake_->PutChoiceRows("contact", Rows("contact", "One")).ok());
  const std::string both =
      "account,industrycode,1,False,1033,Accounting\ncontact,industrycode,1,False,1033,One\n";
  ASSERT_TRUE(env.PowerCut().ok());
  EXPECT_EQ(File(), both) << "written durably";

  // The rename of a rewrite fails (a cut just before it): the old file stays.
  ASSERT_TRUE(Open(env).ok());
  env.FailNext(FaultInjectionEnv::Op::kRename, "OptionsetMetadata.csv");
  EXPECT_FALSE(lake_->PutChoiceRows("account", Rows("account", "Audit")).ok());
  ASSERT_TRUE(env.PowerCut().ok());
  EXPECT_EQ(File(), both);
  // The write itself cut short: the same.
  ASSERT_TRUE(Open(env).ok());
  env.FailNext(FaultInjectionEnv::Op::kWrite, "OptionsetMetadata.csv", 10);
  EXPECT_FALSE(lake_->PutChoiceRows("account", Rows("account", "Audit")).ok());
  ASSERT_TRUE(env.PowerCut().ok());
  EXPECT_EQ(File(), both);
  // The next open writes it, and a cut after that keeps it.
  ASSERT_TRUE(Open(env).ok());
  ASSERT_TRUE(lake_->PutChoiceRows("account", Rows("account", "Audit")).ok());
  ASSERT_TRUE(env.PowerCut().ok());
  const std::string audit =
      "account,industrycode,1,False,1033,Audit\ncontact,industrycode,1,False,1033,One\n";
  EXPECT_EQ(File(), audit);

  // Corrupted by hand (an open quote): read up to the damage, a warning,
  // and the file is written again; each table's rows come back when it is
  // opened (here: put) again.
  ASSERT_TRUE(
      WriteFileAtomic((dir_ / "lake" / "OptionsetMetadata" / "OptionsetMetadata.csv").string(),
                      "account,industrycode,1,False,1033,Audit\n\"contact,broken\n")
          .ok());
  ASSERT_TRUE(Open(env).ok());
  ASSERT_TRUE(lake_->PutChoiceRows("account", Rows("account", "Audit & Tax")).ok());
  EXPECT_EQ(File(), "account,industrycode,1,False,1033,Audit & Tax\n");
  ASSERT_TRUE(lake_->PutChoiceRows("contact", Rows("contact", "One")).ok());
  EXPECT_EQ(
      File(),
      "account,industrycode,1,False,1033,Audit & Tax\ncontact,industrycode,1,False,1033,One\n");
}

}  // namespace
}  // namespace linkwatch::sync
