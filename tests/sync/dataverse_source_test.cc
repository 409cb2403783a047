// The dataverse sync source against the Dataverse emulator: metadata to a
// schema, change-tracking reads and delta links, deletes, paging and the
// batch limit, breaks (an expired delta token, a cursor of another
// environment), retried pages that never deliver a row twice, and exact
// values.
#include "agent/sync/sources/dataverse_source.h"

#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>
#include <thread>

#include "tests/fakes/dataverse_emulator.h"

namespace linkwatch::sync {
namespace {

using fakes::AttributeDef;
using fakes::AttributeType;
using json = nlohmann::json;

// A row as handed over, owned.
struct Seen {
  int64_t version = 0;
  bool deleted = false, created = false;
  double changed_at = 0;
  std::map<std::string, std::string> values;  // non-null values by column
};

AttributeDef Attr(std::string name, AttributeType type, int max_length = 0, int precision = 2,
                  std::vector<std::string> targets = {},
                  std::vector<fakes::OptionDef> options = {}) {
  AttributeDef a;
  a.logical_name = std::move(name);
  a.type = type;
  a.max_length = max_length;
  a.precision = precision;
  a.targets = std::move(targets);
  a.options = std::move(options);
  return a;
}

class DataverseSyncSourceTest : public ::testing::Test {
 protected:
  DataverseSyncSourceTest() {
    fakes::EntityDef account;
    account.logical_name = "account";
    account.primary_name = "name";
    account.attributes = {
        Attr("accountid", AttributeType::kUniqueidentifier),
        Attr("name", AttributeType::kString, 160),
        Attr("revenue", AttributeType::kMoney),
        Attr("rating", AttributeType::kDecimal, 0, 4),
        Attr("ratio", AttributeType::kDouble),
        Attr("employees", AttributeType::kInteger),
        Attr("big", AttributeType::kBigInt),
        Attr("active", AttributeType::kBoolean),
        Attr("industrycode", AttributeType::kPicklist, 0, 0, {},
             {{1, "Accounting"}, {2, "Brokers"}}),
        Attr("statecode", AttributeType::kState, 0, 0, {}, {{0, "Active"}, {1, "Inactive"}}),
        Attr("parentaccountid", AttributeType::kLookup, 0, 0, {"account"}),
        Attr("lasttaskid", AttributeType::kLookup, 0, 0, {"task"}),
        Attr("createdon", AttributeType::kDateTime),
        Attr("modifiedon", AttributeType::kDateTime),
        Attr("versionnumber", AttributeType::kBigInt),
    };
    EXPECT_TRUE(emu_.DefineEntity(account).ok());
    fakes::EntityDef note;
    note.logical_name = "note";
    note.change_tracking = false;
    note.attributes = {Attr("noteid", AttributeType::kUniqueidentifier),
                       Attr("subject", AttributeType::kString)};
    EXPECT_TRUE(emu_.DefineEntity(note).ok());
    fakes::EntityDef task;  // an activity: its primary id is activityid
    task.logical_name = "task";
    task.primary_id = "activityid";
    task.attributes = {Attr("activityid", AttributeType::kUniqueidentifier),
                       Attr("subject", AttributeType::kString)};
    EXPECT_TRUE(emu_.DefineEntity(task).ok());
  }

  dataverse::WebApiSettings Settings(int page_size = 5000) {
    dataverse::WebApiSettings s;
    s.url = emu_.Url();
    s.entra.authority = emu_.Url();
    s.entra.tenant_id = "tenant";
    s.entra.client_id = "linkwatch";
    s.entra.client_secret = Secret::Plain("secret");
    s.page_size = page_size;
    s.backoff.base = Millis(1);
    s.backoff.cap = Millis(5);
    return s;
  }

  std::unique_ptr<DataverseSource> Open(int page_size = 5000) {
    return std::make_unique<DataverseSource>(Settings(page_size), SystemClock::Instance());
  }

  TableSchema Schema(DataverseSource& source) {
    auto s = source.Describe("account");
    EXPECT_TRUE(s.ok()) << s.message();
    return s.ok() ? *s : TableSchema{};
  }

  // Collects rows by key; a key handed over twice fails the test.
  RowCallback Collect(const TableSchema& schema, std::map<std::string, Seen>& out) {
    return [&out, &schema](const RowView& r) {
      Seen s;
      s.version = r.version;
      s.deleted = r.deleted;
      s.created = r.created;
      s.changed_at = r.changed_at;
      for (size_t i = 0; i < r.values.size(); ++i) {
        if (!r.values[i].is_null())
          s.values[schema.columns[i].name] = std::string(r.values[i].text);
      }
      const bool fresh = out.emplace(std::string(r.key.text), s).second;
      EXPECT_TRUE(fresh) << "key handed over twice: " << r.key.text;
      return Status::Ok();
    };
  }

  std::vector<std::string> CreateMany(int n, const std::string& prefix = "row") {
    std::vector<std::string> ids;
    for (int i = 0; i < n; ++i) {
      auto id =
          emu_.Create("account", {{"name", prefix + " " + std::to_string(i)}, {"employees", i}});
      EXPECT_TRUE(id.ok()) << id.message();
      if (id.ok()) ids.push_back(*id);
    }
    return ids;
  }

  fakes::DataverseEmulator emu_;
};

TEST_F(DataverseSyncSourceTest, DescribesATableFromItsMetadata) {
  auto source = Open();
  const TableSchema schema = Schema(*source);
  std::vector<std::string> names;
  std::map<std::string, ValueType> types;
  for (const auto& c : schema.columns) {
    names.push_back(c.name);
    types[c.name] = c.type;
  }
  // versionnumber is each row's version, not a column (the lake adds its own).
  EXPECT_EQ(names,
            (std::vector<std::string>{"accountid", "name", "revenue", "rating", "ratio",
                                      "employees", "big", "active", "industrycode", "statecode",
                                      "parentaccountid", "lasttaskid", "createdon", "modifiedon"}));
  ASSERT_GE(schema.key, 0);
  EXPECT_EQ(schema.columns[schema.key].name, "accountid");
  EXPECT_EQ(schema.columns[schema.createdon].name, "createdon");
  EXPECT_EQ(types["accountid"], ValueType::kGuid);
  EXPECT_EQ(types["parentaccountid"], ValueType::kGuid);
  EXPECT_EQ(types["revenue"], ValueType::kDecimal);
  EXPECT_EQ(types["rating"], ValueType::kDecimal);
  EXPECT_EQ(types["ratio"], ValueType::kDouble);
  EXPECT_EQ(types["employees"], ValueType::kInt64);
  EXPECT_EQ(types["big"], ValueType::kInt64);
  EXPECT_EQ(types["industrycode"], ValueType::kInt64);
  EXPECT_EQ(types["active"], ValueType::kBoolean);
  EXPECT_EQ(types["createdon"], ValueType::kDateTime);
  EXPECT_EQ(types["name"], ValueType::kString);
  EXPECT_EQ(schema.columns[2].declared_type, "Money");
  EXPECT_EQ(schema.columns[2].scale, 4);
  // What the lake's metadata files are written from.
  std::map<std::string, ColumnMetadata> meta;
  for (const auto& c : schema.columns) meta[c.name] = c.metadata;
  EXPECT_EQ(meta["name"].max_length, 160);
  EXPECT_EQ(meta["rating"].precision, 4);
  EXPECT_EQ(meta["parentaccountid"].targets, (std::vector<LookupTarget>{{"account", "accountid"}}));
  // An activity's primary id is activityid: read from the relationship,
  // not guessed from the name.
  EXPECT_EQ(meta["lasttaskid"].targets, (std::vector<LookupTarget>{{"task", "activityid"}}));
  EXPECT_EQ(meta["industrycode"].choice, ColumnMetadata::Choice::kPicklist);
  ASSERT_EQ(meta["industrycode"].options.size(), 2u);
  EXPECT_EQ(meta["industrycode"].options[1].value, 2);
  EXPECT_EQ(meta["industrycode"].options[1].label, "Brokers");
  EXPECT_EQ(meta["industrycode"].options[1].language, 1033);
  EXPECT_EQ(meta["statecode"].choice, ColumnMetadata::Choice::kState);
  ASSERT_EQ(meta["statecode"].options.size(), 2u);
  EXPECT_EQ(meta["statecode"].options[1].label, "Inactive");
  EXPECT_EQ(meta["name"].choice, ColumnMetadata::Choice::kNone);
  EXPECT_EQ(emu_.Counters().metadata, 4)
      << "the entity, Picklist and State options, then the lookups' relationships";
}

TEST_F(DataverseSyncSourceTest, RefusesTablesWithoutChangeTrackingOrMissingByName) {
  auto source = Open();
  auto note = source->Describe("note");
  ASSERT_FALSE(note.ok());
  EXPECT_NE(note.message().find("table note does not have change tracking enabled"),
            std::string::npos)
      << note.message();
  EXPECT_NE(note.message().find("Track changes"), std::string::npos);
  auto missing = source->Describe("nosuchtable");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.message().find("table nosuchtable is not in the Dataverse environment"),
            std::string::npos)
      << missing.message();
  EXPECT_EQ(missing.status().reason(), "");  // Dataverse's code stays out of metric labels
  auto hostile = source->Describe("account')?$x=1");
  ASSERT_FALSE(hostile.ok());
  EXPECT_NE(hostile.message().find("not a Dataverse logical name"), std::string::npos);
}

TEST_F(DataverseSyncSourceTest, ReadsEveryPageThenFollowsTheDeltaLink) {
  const auto ids = CreateMany(25);
  auto source = Open(/*page_size=*/10);
  const TableSchema schema = Schema(*source);
  std::map<std::string, Seen> all;
  auto cursor = source->ReadAll(schema, Collect(schema, all));
  ASSERT_TRUE(cursor.ok()) << cursor.message();
  ASSERT_EQ(all.size(), 25u);
  int64_t max_version = 0;
  for (const auto& id : ids) {
    ASSERT_TRUE(all.count(id)) << id;
    EXPECT_TRUE(all[id].created);
    EXPECT_GT(all[id].version, 0);
    max_version = std::max(max_version, all[id].version);
  }
  EXPECT_EQ(all[ids[3]].values["name"], "row 3");
  EXPECT_EQ(all[ids[3]].values["employees"], "3");
  auto parts = DataverseSource::ParseCursor(*cursor);
  ASSERT_TRUE(parts);
  EXPECT_EQ(parts->max_version, max_version);
  EXPECT_NE(parts->link.find("$deltatoken="), std::string::npos);
  EXPECT_TRUE(source->CheckChain("account", "c", *cursor).ok());

  // Nothing changed: the cursor stays (no state write).
  std::map<std::string, Seen> none;
  auto same = source->ReadChanges(schema, *cursor, 1000, Collect(schema, none));
  ASSERT_TRUE(same.ok()) << same.message();
  EXPECT_TRUE(none.empty());
  EXPECT_EQ(*same, *cursor);
  EXPECT_FALSE(*source->ChangesWaiting(schema, *cursor));

  // An update, a delete and a create.
  ASSERT_TRUE(emu_.Update("account", ids[1], {{"name", "renamed"}}).ok());
  ASSERT_TRUE(emu_.Delete("account", ids[2]).ok());
  auto added = emu_.Create("account", {{"name", "new"}, {"parentaccountid", ids[0]}});
  ASSERT_TRUE(added.ok());
  EXPECT_TRUE(*source->ChangesWaiting(schema, *cursor));
  std::map<std::string, Seen> changes;
  auto next = source->ReadChanges(schema, *cursor, 1000, Collect(schema, changes));
  ASSERT_TRUE(next.ok()) << next.message();
  ASSERT_EQ(changes.size(), 3u);
  EXPECT_EQ(changes[ids[1]].values["name"], "renamed");
  EXPECT_FALSE(changes[ids[1]].deleted);
  EXPECT_GT(changes[ids[1]].version, max_version);
  EXPECT_TRUE(changes[ids[2]].deleted);
  EXPECT_TRUE(changes[ids[2]].values.empty());
  EXPECT_GT(changes[ids[2]].version, all[ids[2]].version);
  EXPECT_EQ(changes[*added].values["parentaccountid"], ids[0]);  // _parentaccountid_value
  EXPECT_TRUE(changes[*added].created);
  EXPECT_GT(changes[*added].changed_at, 0);
  EXPECT_NE(*next, *cursor);
  std::map<std::string, Seen> after;
  auto quiet = source->ReadChanges(schema, *next, 1000, Collect(schema, after));
  ASSERT_TRUE(quiet.ok());
  EXPECT_TRUE(after.empty());
}

TEST_F(DataverseSyncSourceTest, AReadPastTheLimitStopsAtAPageBoundaryAndGoesOnFromThere) {
  CreateMany(3);
  auto source = Open();
  const TableSchema schema = Schema(*source);
  std::map<std::string, Seen> all;
  auto cursor = source->ReadAll(schema, Collect(schema, all));
  ASSERT_TRUE(cursor.ok()) << cursor.message();
  const auto ids = CreateMany(25, "later");
  std::map<std::string, Seen> changes;
  int reads = 0;
  Cursor at = *cursor;
  for (;;) {
    size_t before = changes.size();
    auto next = source->ReadChanges(schema, at, 10, Collect(schema, changes));
    ASSERT_TRUE(next.ok()) << next.message();
    ASSERT_LE(changes.size() - before, 10u);
    ++reads;
    if (*next == at || changes.size() == before) break;
    at = *next;
    ASSERT_LT(reads, 10);
  }
  EXPECT_EQ(changes.size(), 25u);
  EXPECT_EQ(reads, 4);  // 10 + 10 + 5, then nothing
  for (const auto& id : ids) EXPECT_TRUE(changes.count(id)) << id;
}

// A round that stopped at its limit stores the next page's link. When that
// page turns out empty (its rows changed again since, so they now lie past
// the read's snapshot), the delta link it ends with replaces it: keeping the
// page's link would re-read the same empty page for a day.
TEST_F(DataverseSyncSourceTest, AnEmptyNextPageHandsOverItsDeltaLink) {
  CreateMany(1);
  auto source = Open();
  const TableSchema schema = Schema(*source);
  std::map<std::string, Seen> all;
  auto cursor = source->ReadAll(schema, Collect(schema, all));
  ASSERT_TRUE(cursor.ok()) << cursor.message();
  const auto ids = CreateMany(20, "later");
  std::map<std::string, Seen> first;
  auto paged = source->ReadChanges(schema, *cursor, 10, Collect(schema, first));
  ASSERT_TRUE(paged.ok()) << paged.message();
  ASSERT_EQ(first.size(), 10u);
  auto parts = DataverseSource::ParseCursor(*paged);
  ASSERT_TRUE(parts);
  ASSERT_NE(parts->link.find("$skiptoken="), std::string::npos) << parts->link;
  for (const auto& id : ids) {
    if (first.count(id) == 0) {
      ASSERT_TRUE(emu_.Update("account", id, {{"name", "again"}}).ok());
    }
  }
  std::map<std::string, Seen> empty;
  auto next = source->ReadChanges(schema, *paged, 10, Collect(schema, empty));
  ASSERT_TRUE(next.ok()) << next.message();
  ASSERT_TRUE(empty.empty()) << "the emulator's page 2 should lie before the updates";
  ASSERT_NE(*next, *paged);
  auto moved = DataverseSource::ParseCursor(*next);
  ASSERT_TRUE(moved);
  EXPECT_NE(moved->link.find("$deltatoken="), std::string::npos) << moved->link;
  std::map<std::string, Seen> rest;
  auto last = source->ReadChanges(schema, *next, 100, Collect(schema, rest));
  ASSERT_TRUE(last.ok()) << last.message();
  EXPECT_EQ(rest.size(), 10u);
  for (const auto& [id, seen] : rest) EXPECT_EQ(seen.values.at("name"), "again") << id;
}

TEST_F(DataverseSyncSourceTest, AnExpiredDeltaTokenIsABreak) {
  CreateMany(2);
  auto source = Open();
  const TableSchema schema = Schema(*source);
  std::map<std::string, Seen> all;
  auto cursor = source->ReadAll(schema, Collect(schema, all));
  ASSERT_TRUE(cursor.ok());
  emu_.ExpireDeltaTokens();
  std::map<std::string, Seen> changes;
  auto next = source->ReadChanges(schema, *cursor, 100, Collect(schema, changes));
  ASSERT_FALSE(next.ok());
  EXPECT_TRUE(next.status().is_break());
  EXPECT_EQ(next.status().reason(), "delta_token_expired");
  EXPECT_NE(next.message().find("0x80044352"), std::string::npos) << next.message();
}

TEST_F(DataverseSyncSourceTest, ACursorOfAnotherEnvironmentOrSourceTypeIsABreak) {
  auto source = Open();
  auto other = DataverseSource::MakeCursor(
      {5, 0, "https://other.crm.dynamics.com/api/data/v9.2/accounts?$deltatoken=1"});
  Status s = source->CheckChain("account", "c", other);
  EXPECT_TRUE(s.is_break());
  EXPECT_EQ(s.reason(), "source_replaced");
  Status sqlite = source->CheckChain("account", "c", "42");
  EXPECT_TRUE(sqlite.is_break());
  EXPECT_EQ(sqlite.reason(), "source_replaced");
  EXPECT_FALSE(DataverseSource::ParseCursor("dataverse:1:2:"));
  EXPECT_FALSE(DataverseSource::ParseCursor("dataverse:x:2:http://a"));
  auto round = DataverseSource::ParseCursor(DataverseSource::MakeCursor({7, 9, "http://a?b=c:d"}));
  ASSERT_TRUE(round);
  EXPECT_EQ(round->max_version, 7);
  EXPECT_EQ(round->issued, 9);
  EXPECT_EQ(round->link, "http://a?b=c:d");
}

TEST_F(DataverseSyncSourceTest, APageCutShortIsReadAgainWithoutHandingARowOverTwice) {
  CreateMany(40);
  auto source = Open(/*page_size=*/15);
  const TableSchema schema = Schema(*source);
  emu_.Truncated(1);                // the first page: half of it, then the connection closes
  std::map<std::string, Seen> all;  // Collect fails the test on a key seen twice
  auto cursor = source->ReadAll(schema, Collect(schema, all));
  ASSERT_TRUE(cursor.ok()) << cursor.message();
  EXPECT_EQ(all.size(), 40u);
  EXPECT_EQ(source->client().retries(), 1);

  // A 429 storm and a 503 slow the delta read down without breaking it.
  CreateMany(5, "during the storm");
  emu_.Throttle(3, 0);
  std::map<std::string, Seen> changes;
  auto next = source->ReadChanges(schema, *cursor, 100, Collect(schema, changes));
  ASSERT_TRUE(next.ok()) << next.message();
  EXPECT_EQ(changes.size(), 5u);
  EXPECT_EQ(source->client().throttled(), 3);
  emu_.ServerError(2);
  CreateMany(1, "after");
  std::map<std::string, Seen> more;
  ASSERT_TRUE(source->ReadChanges(schema, *next, 100, Collect(schema, more)).ok());
  EXPECT_EQ(more.size(), 1u);
  EXPECT_EQ(source->client().retries(), 1 + 3 + 2);
}

TEST_F(DataverseSyncSourceTest, ValuesArriveExactlyAsDataverseSentThem) {
  auto id = emu_.Create("account", {{"name", "Contoso \"Ltd\", ünïcode"},
                                    {"revenue", json::parse("1234567890.1234")},
                                    {"rating", json::parse("0.0001")},
                                    {"big", json::parse("9007199254740993")},
                                    {"ratio", json::parse("1e-7")},
                                    {"active", true},
                                    {"industrycode", 2},
                                    {"statecode", 1},
                                    {"createdon", "2021-03-04T05:06:07Z"}});
  ASSERT_TRUE(id.ok());
  auto source = Open();
  const TableSchema schema = Schema(*source);
  std::map<std::string, Seen> all;
  ASSERT_TRUE(source->ReadAll(schema, Collect(schema, all)).ok());
  auto& v = all[*id].values;
  EXPECT_EQ(v["name"], "Contoso \"Ltd\", ünïcode");
  EXPECT_EQ(v["revenue"], "1234567890.1234");
  EXPECT_EQ(v["rating"], "0.0001");
  EXPECT_EQ(v["big"], "9007199254740993");  // beyond a double: never passed through one
  EXPECT_EQ(v["active"], "true");
  EXPECT_EQ(v["industrycode"], "2");
  EXPECT_EQ(v["createdon"], "2021-03-04T05:06:07Z");
  EXPECT_EQ(v.count("parentaccountid"), 0u);  // null
}

// Cancel (the engine stopping) ends a read waiting on a 429's Retry-After.
TEST_F(DataverseSyncSourceTest, CancelEndsAReadWaitingOnRetryAfter) {
  CreateMany(2);
  auto source = Open();
  const TableSchema schema = Schema(*source);
  emu_.Throttle(1, 200);  // within the 300 s a request waits
  std::map<std::string, Seen> all;
  Result<Cursor> read = Status::Error("not run");
  std::thread reader([&] { read = source->ReadAll(schema, Collect(schema, all)); });
  while (source->client().throttled() == 0)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  const auto cancelled = std::chrono::steady_clock::now();
  source->Cancel();
  reader.join();
  EXPECT_LT(std::chrono::steady_clock::now() - cancelled, std::chrono::seconds(150))
      << "waited the 200 s Retry-After";
  ASSERT_FALSE(read.ok());
  EXPECT_NE(read.message().find("stopped"), std::string::npos) << read.message();
  EXPECT_TRUE(all.empty());
}

// A column added in Dataverse moves SchemaVersion at the next metadata check
// (the engine then describes the table again); between checks it costs no
// request.
TEST_F(DataverseSyncSourceTest, AColumnAddedInDataverseMovesTheSchemaVersion) {
  ManualClock clock;
  clock.Set(FromEpochSeconds(1767225600));
  DataverseSource source(Settings(), clock);
  auto schema = source.Describe("account");
  ASSERT_TRUE(schema.ok()) << schema.message();
  const int64_t metadata = emu_.Counters().metadata;
  EXPECT_EQ(*source.SchemaVersion(), 0);
  fakes::EntityDef account;
  account.logical_name = "account";
  account.attributes = {Attr("accountid", AttributeType::kUniqueidentifier),
                        Attr("name", AttributeType::kString), Attr("fax", AttributeType::kString)};
  ASSERT_TRUE(emu_.DefineEntity(account).ok());
  clock.Set(clock.Now() + std::chrono::minutes(9));
  EXPECT_EQ(*source.SchemaVersion(), 0);
  EXPECT_EQ(emu_.Counters().metadata, metadata) << "no request between checks";
  clock.Set(clock.Now() + std::chrono::minutes(2));
  EXPECT_EQ(*source.SchemaVersion(), 1);
  EXPECT_EQ(*source.SchemaVersion(), 1);
  auto again = source.Describe("account");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->columns.back().name, "fax");
}

// The engine lends a profile's connections to its steps in turn: a
// connection that never described the table reads it by the schema the
// engine holds (never by fresher metadata of its own), and a change one
// connection sees moves SchemaVersion on all of them.
TEST_F(DataverseSyncSourceTest, ConnectionsShareTheMetadataAndReadByTheEnginesSchema) {
  auto ids = CreateMany(3);
  auto first = Open();
  const TableSchema old_schema = Schema(*first);
  const int64_t version = *first->SchemaVersion();
  fakes::EntityDef account;
  account.logical_name = "account";
  account.attributes = {
      Attr("accountid", AttributeType::kUniqueidentifier), Attr("aaa_new", AttributeType::kString),
      Attr("name", AttributeType::kString, 160), Attr("employees", AttributeType::kInteger),
      Attr("versionnumber", AttributeType::kBigInt)};
  ASSERT_TRUE(emu_.DefineEntity(account).ok());
  auto second = Open();
  std::map<std::string, Seen> all;
  auto cursor = second->ReadAll(old_schema, Collect(old_schema, all));
  ASSERT_FALSE(cursor.ok()) << "the old schema names columns the table no longer has";
  TableSchema fresh = Schema(*second);
  EXPECT_EQ(*first->SchemaVersion(), version + 1) << "seen through the other connection";
  ASSERT_TRUE(first->ReadAll(fresh, Collect(fresh, all)).ok());
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[ids[1]].values["name"], "row 1");
  EXPECT_EQ(all[ids[1]].values["employees"], "1");
  EXPECT_EQ(all[ids[1]].values.count("aaa_new"), 0u);
}

TEST_F(DataverseSyncSourceTest, RowCountIsRetrieveTotalRecordCount) {
  CreateMany(7);
  auto source = Open();
  const TableSchema schema = Schema(*source);
  auto count = source->RowCount(schema);
  ASSERT_TRUE(count.ok()) << count.message();
  EXPECT_EQ(*count, 7);
  EXPECT_EQ(emu_.Counters().count_function, 1);
}

TEST_F(DataverseSyncSourceTest, ATwinOfAGuidKeyIsTheSameKeyInDataverse) {
  auto source = Open();
  const TableSchema schema = Schema(*source);
  EXPECT_FALSE(*source->MayHaveKeyTwins(schema));
  StoredValue upper;
  upper.kind = Value::Kind::kText;
  upper.bytes = "0000000A-0000-0000-0000-000000000000";
  EXPECT_EQ(*source->CountKeys(schema, std::span<const StoredValue>(&upper, 1)), 0);
}

}  // namespace
}  // namespace linkwatch::sync
