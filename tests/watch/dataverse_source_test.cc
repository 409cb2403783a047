// The dataverse watch source against the Dataverse emulator: the same rows
// in a state file read through LocalSource and served by the emulator read
// through DataverseStateSource give the same snapshot, and every failure
// fails the poll with a message naming the request.
#include "agent/watch/dataverse_source.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "agent/state/db.h"
#include "agent/state/state_store.h"
#include "agent/watch/local_source.h"
#include "tests/fakes/dataverse_emulator.h"
#include "tests/fakes/test_dir.h"

namespace linkwatch::watch {
namespace {

using state::TableId;

constexpr const char* kSecret = "dv-client-s3cret";

// Rows of every table, with lookups, datetimes (one with a fraction),
// choices, booleans, nulls and values that do not fit their column.
constexpr const char* kRows = R"SQL(
INSERT INTO synapselinkprofile (synapselinkprofileid, name, profilestate, profiletype,
  activationtime, snapshotstopersist, datalakefolder, copyattachments, extendedproperties)
VALUES ('00000000-0000-0000-0000-0000000000a1', 'crm', 1, 0, '2026-12-01T08:00:00Z', 5,
  'lake/crm', 0, '{"k": [1, "two"]}'),
 ('00000000-0000-0000-0000-0000000000a2', 'erp', 2, 0, '2026-12-02T09:30:00.250Z', NULL,
  NULL, 1, NULL);
INSERT INTO synapselinkprofileentity (synapselinkprofileentityid, entityname, profile, enabled,
  partitionstrategy, recordcountperblock)
VALUES ('00000000-0000-0000-0000-0000000000b1', 'account', '00000000-0000-0000-0000-0000000000a1',
  1, 1, 5000),
 ('00000000-0000-0000-0000-0000000000b2', 'contact', '00000000-0000-0000-0000-0000000000a1',
  0, 0, NULL);
INSERT INTO synapselinkprofileentitystate (synapselinkprofileentitystateid, entityname, profile,
  profileentity, syncstate, initialsyncstate, crmrecordcount, lakerecordcount,
  lastsynceddatatime, lakerecordcountmodifiedtime)
VALUES ('00000000-0000-0000-0000-0000000000c1', 'account', '00000000-0000-0000-0000-0000000000a1',
  '00000000-0000-0000-0000-0000000000b1', 2, 4, 9007199254740993, 120, '2026-12-03T10:00:00Z',
  '2026-12-03T10:00:00Z'),
 ('00000000-0000-0000-0000-0000000000c2', 'contact', '00000000-0000-0000-0000-0000000000a1',
  '00000000-0000-0000-0000-0000000000b2', 8, 16, 'abc', '12', 'yesterday', NULL),
 ('00000000-0000-0000-0000-0000000000c3', 'lead', '00000000-0000-0000-0000-0000000000a2',
  NULL, 4, 4, 1.5, -3, '2026-12-03T10:00:01.5Z', NULL);
INSERT INTO synapselinkexternaltablestate (synapselinkexternaltablestateid, entityname,
  tablestate, lastsyncstate, recordcount, synapseworkspacename, lastsynchronizedon)
VALUES ('00000000-0000-0000-0000-0000000000d1', 'account', 1, 1, 120, 'crm',
  '2026-12-03T10:00:00Z');
INSERT INTO synapselinkschedule (synapselinkscheduleid, profile, type, recurrenceinterval,
  recurrenceunit, starttime)
VALUES ('00000000-0000-0000-0000-0000000000e1', '00000000-0000-0000-0000-0000000000a1', 1, 15, 1,
  '2026-12-01T00:00:00Z');
INSERT INTO synapsedatabase (synapsedatabaseid, name)
VALUES ('00000000-0000-0000-0000-0000000000f1', 'dataverse_crm');
)SQL";

class DataverseSourceTest : public ::testing::Test {
 protected:
  DataverseSourceTest() : dir_(fakes::FreshTestDir("dataverse_source")) {
    state_path_ = (dir_ / "state.db").string();
    auto store = state::StateStore::Open(state_path_);
    EXPECT_TRUE(store.ok()) << store.message();
  }

  void Fill(const char* sql = kRows) {
    auto db = state::Db::Open(state_path_);
    ASSERT_TRUE(db.ok()) << db.message();
    Status s = (*db)->Exec(sql);
    ASSERT_TRUE(s.ok()) << s.message();
  }

  fakes::DataverseEmulator& Emulator() {
    if (!emulator_) {
      fakes::DataverseEmulatorOptions o;
      o.state_db = state_path_;
      o.client_secret = kSecret;
      emulator_ = std::make_unique<fakes::DataverseEmulator>(o);
    }
    return *emulator_;
  }

  dataverse::WebApiSettings Settings(int page_size = 5000) {
    dataverse::WebApiSettings s;
    s.url = Emulator().Url();
    s.entra.authority = Emulator().Url();
    s.entra.tenant_id = "tenant";
    s.entra.client_id = "linkwatch";
    s.entra.client_secret = Secret::Plain(kSecret);
    s.page_size = page_size;
    s = DataverseStateSource::WatchDefaults(s);
    s.backoff.base = Millis(1);
    s.backoff.cap = Millis(5);
    return s;
  }

  std::shared_ptr<const state::Snapshot> PollLocal() {
    LocalSource local("local", state_path_, /*state_store=*/false);
    auto snap = local.Poll();
    EXPECT_TRUE(snap.ok()) << snap.message();
    return snap.ok() ? *snap : nullptr;
  }

  std::filesystem::path dir_;
  std::string state_path_;
  std::unique_ptr<fakes::DataverseEmulator> emulator_;
};

// Rows in key order and invalid values sorted: Dataverse returns rows by
// key, SQLite in insertion order, and no rule depends on either.
state::Snapshot Sorted(const state::Snapshot& in) {
  state::Snapshot out = in;
  for (auto& table : out.tables) {
    std::sort(table.rows.begin(), table.rows.end(),
              [](const state::Row& a, const state::Row& b) { return a[0].text() < b[0].text(); });
  }
  std::sort(out.invalid_values.begin(), out.invalid_values.end(),
            [](const state::InvalidValue& a, const state::InvalidValue& b) {
              return a.ToString() < b.ToString();
            });
  return out;
}

TEST_F(DataverseSourceTest, ReadsTheSameSnapshotAsTheLocalSourceFromTheSameRows) {
  Fill();
  auto local = PollLocal();
  ASSERT_TRUE(local);
  DataverseStateSource source("contoso", Settings(), SystemClock::Instance());
  auto remote = source.Poll();
  ASSERT_TRUE(remote.ok()) << remote.message();
  const state::Snapshot a = Sorted(*local), b = Sorted(**remote);
  for (const auto& def : state::AllTables()) {
    SCOPED_TRACE(std::string(def.name));
    EXPECT_EQ(a[def.id].rows.size(), b[def.id].rows.size());
    EXPECT_TRUE(a[def.id] == b[def.id]);
  }
  ASSERT_EQ(a.invalid_values.size(), 3u);  // "abc", "yesterday" and 1.5
  EXPECT_EQ(a.invalid_values, b.invalid_values);
  EXPECT_TRUE(a == b);
  // Lookups came back as _x_value and were mapped to their columns.
  const auto& states = b[TableId::kEntityState];
  const int profile = states.def->ColumnIndex("profile");
  EXPECT_EQ(states.rows[0][profile].text(), "00000000-0000-0000-0000-0000000000a1");
  // One request per table and one token request.
  EXPECT_EQ(source.last_poll_requests(), 7);
  ASSERT_TRUE(source.Poll().ok());
  EXPECT_EQ(source.last_poll_requests(), 6);
}

TEST_F(DataverseSourceTest, FollowsPagesOfATableLargerThanAPage) {
  Fill();
  DataverseStateSource source("contoso", Settings(/*page_size=*/1), SystemClock::Instance());
  auto remote = source.Poll();
  ASSERT_TRUE(remote.ok()) << remote.message();
  EXPECT_EQ((**remote)[TableId::kEntityState].rows.size(), 3u);
  EXPECT_EQ((**remote)[TableId::kProfile].rows.size(), 2u);
  // 2 + 2 + 3 + 1 + 1 + 1 pages, plus the token, plus an empty-page check
  // for none: the last page of a table has no nextLink.
  EXPECT_EQ(source.last_poll_requests(), 11);
  EXPECT_TRUE(Sorted(*PollLocal()) == Sorted(**remote));
}

TEST_F(DataverseSourceTest, AColumnTheEnvironmentLacksIsLeftOutAsForALocalFile) {
  // A synapsedatabase table without `name`, as an older solution might have.
  Fill(R"SQL(DROP TABLE synapsedatabase;
CREATE TABLE synapsedatabase (synapsedatabaseid TEXT PRIMARY KEY, statecode INTEGER);
INSERT INTO synapsedatabase VALUES ('00000000-0000-0000-0000-0000000000f1', 0);)SQL");
  DataverseStateSource source("contoso", Settings(), SystemClock::Instance());
  auto remote = source.Poll();
  ASSERT_TRUE(remote.ok()) << remote.message();
  EXPECT_TRUE(Sorted(*PollLocal()) == Sorted(**remote));
  // The next poll asks without it at once: six requests.
  ASSERT_TRUE(source.Poll().ok());
  EXPECT_EQ(source.last_poll_requests(), 6);
}

TEST_F(DataverseSourceTest, EveryFailureFailsThePollNamingTheRequestAndNoSecret) {
  Fill();
  DataverseStateSource source("contoso", Settings(), SystemClock::Instance());
  ASSERT_TRUE(source.Poll().ok());

  Emulator().ServerError(100);
  auto r = source.Poll();
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.message().find("GET synapselinkprofiles: HTTP 503"), std::string::npos)
      << r.message();
  EXPECT_NE(r.message().find("gave up after 3 attempts"), std::string::npos) << r.message();
  Emulator().ClearFaults();
  ASSERT_TRUE(source.Poll().ok());

  Emulator().Malformed(1);
  r = source.Poll();
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.message().find("GET synapselinkprofiles: malformed JSON"), std::string::npos)
      << r.message();

  // A page cut short is read again: the poll works.
  Emulator().Truncated(1);
  EXPECT_TRUE(source.Poll().ok());

  // A revoked token is refreshed once; a refused one fails the poll.
  Emulator().RevokeTokens();
  EXPECT_TRUE(source.Poll().ok());
  Emulator().RevokeTokens();
  Emulator().RefuseToken(1);
  r = source.Poll();
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.message().find("invalid_client"), std::string::npos) << r.message();
  EXPECT_EQ(r.message().find(kSecret), std::string::npos) << r.message();

  // A 429 waits its Retry-After and the poll works.
  Emulator().Throttle(1, 1);
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_TRUE(source.Poll().ok());
  EXPECT_GE(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(900));

  // Nothing listening: DNS or a refused connection fails the poll.
  emulator_.reset();
  r = source.Poll();
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.message().find("GET synapselinkprofiles"), std::string::npos) << r.message();
}

}  // namespace
}  // namespace linkwatch::watch
