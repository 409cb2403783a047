// Issue 7: lake values are what the source holds, for every reader. Each
// test names the point it guards (empty versus NULL, key collisions, invalid
// UTF-8, GUID typing, decimal notation, fractional seconds, values that are
// not their column's type).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <prometheus/registry.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>

#include "agent/core/clock.h"
#include "agent/core/files.h"
#include "agent/state/db.h"
#include "agent/state/monitor.h"
#include "agent/state/state_store.h"
#include "agent/sync/destinations/lake.h"
#include "agent/sync/destinations/lake_format.h"
#include "agent/sync/engine.h"
#include "agent/sync/sources/sqlite_source.h"
#include "agent/sync/state_rows.h"
#include "agent/sync/sync_metrics.h"
#include "tests/fakes/metric_value.h"
#include "tests/sync/engine_test_util.h"

namespace linkwatch::sync {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

Value Text(std::string_view s) { return {Value::Kind::kText, 0, 0, s}; }
Value Blob(std::string_view s) { return {Value::Kind::kBlob, 0, 0, s}; }
Value Int(int64_t i) { return {Value::Kind::kInt, i, 0, {}}; }
Value Real(double d) { return {Value::Kind::kReal, 0, d, {}}; }

SourceColumn Column(ValueType type, const char* declared, int precision = 38, int scale = 10) {
  SourceColumn c;
  c.name = "c";
  c.type = type;
  c.declared_type = declared;
  c.precision = precision;
  c.scale = scale;
  return c;
}

// The field, or "FAIL: <reason>" when the value is refused.
std::string Render(const SourceColumn& c, const Value& v, bool createdon = false,
                   lake::RenderStats* stats = nullptr) {
  lake::RenderStats local;
  std::string out = "<";
  if (lake::RenderError e = lake::AppendValue(out, c, v, createdon, stats ? *stats : local)) {
    EXPECT_EQ(out, "<") << "a refused value must append nothing";
    return std::string("FAIL: ") + e;
  }
  return out.substr(1);
}

// --- Point 1: empty string, NULL and empty blob ------------------------------

TEST(LakeValuesTest, EmptyStringAndEmptyBlobAreQuotedNullIsEmpty) {
  const SourceColumn s = Column(ValueType::kString, "TEXT");
  EXPECT_EQ(Render(s, Text("")), "\"\"");
  EXPECT_EQ(Render(s, Value{}), "");
  EXPECT_EQ(Render(s, Blob("")), "\"\"");
  EXPECT_EQ(Render(s, Blob("ab")), "YWI=");
  EXPECT_EQ(Render(s, Text("a,b")), "\"a,b\"");
  std::string id;
  lake::AppendCsvField(id, "");
  EXPECT_EQ(id, "\"\"");
}

// --- Point 4: invalid UTF-8 ----------------------------------------------------

TEST(LakeValuesTest, InvalidUtf8IsReplacedByMaximalSubpartAndCounted) {
  const SourceColumn s = Column(ValueType::kString, "TEXT");
  lake::RenderStats stats;
  EXPECT_EQ(Render(s,
                   Text("ab\xFF"
                        "cd"),
                   false, &stats),
            "ab\xEF\xBF\xBD"
            "cd");
  EXPECT_EQ(stats.invalid_text, 1);
  // Unicode's own example (Table 3-8): F1 80 80 | E1 80 | C2 | 62 | 80 | 63 | 80 | BF | 64.
  std::string out;
  EXPECT_EQ(lake::AppendUtf8(out,
                             "a\xF1\x80\x80\xE1\x80\xC2"
                             "b\x80"
                             "c\x80\xBF"
                             "d"),
            6u);
  EXPECT_EQ(out,
            "a\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"
            "b\xEF\xBF\xBD"
            "c\xEF\xBF\xBD\xEF\xBF\xBD"
            "d");
  // Surrogates, overlongs and code points above U+10FFFF are ill-formed too.
  out.clear();
  // ED A0 80: 3; C0 AF: 2; F4 90 80 80: 4 (each byte its own maximal subpart).
  EXPECT_EQ(lake::AppendUtf8(out, "\xED\xA0\x80\xC0\xAF\xF4\x90\x80\x80"), 9u);
  // Valid multi-byte text, and long ASCII runs around a bad byte, pass through.
  out.clear();
  const std::string good = "Zoë — 東京 🚀 plain ascii text longer than eight bytes";
  EXPECT_EQ(lake::AppendUtf8(out, good), 0u);
  EXPECT_EQ(out, good);
  EXPECT_TRUE(lake::IsValidUtf8(good));
  EXPECT_FALSE(lake::IsValidUtf8("0123456789abcdef\xC3"));
  // Quoted fields are replaced the same way.
  stats = {};
  EXPECT_EQ(Render(s, Text("x,\"\xFE\""), false, &stats), "\"x,\"\"\xEF\xBF\xBD\"\"\"");
  EXPECT_EQ(stats.invalid_text, 1);
}

// --- Points 3 and 5: Ids ---------------------------------------------------------

TEST(LakeValuesTest, GuidKeysAreLowerCasedOtherKeysKeptAsTheSourceHoldsThem) {
  const SourceColumn guid = Column(ValueType::kGuid, "UNIQUEIDENTIFIER");
  const SourceColumn text = Column(ValueType::kString, "TEXT");
  std::string id;
  EXPECT_EQ(lake::RenderId(Text("09CB3942-0000-4000-8000-00000000000A"), guid, id), nullptr);
  EXPECT_EQ(id, "09cb3942-0000-4000-8000-00000000000a");
  // A text key that merely looks like a GUID is not touched.
  EXPECT_EQ(lake::RenderId(Text("09CB3942-0000-4000-8000-00000000000A"), text, id), nullptr);
  EXPECT_EQ(id, "09CB3942-0000-4000-8000-00000000000A");
  EXPECT_EQ(lake::RenderId(Int(42), text, id), nullptr);
  EXPECT_EQ(id, "42");
  EXPECT_EQ(lake::RenderId(Text(""), text, id), nullptr);
  EXPECT_EQ(id, "");
  // Refused: not a GUID in a GUID column, mixed case, invalid UTF-8.
  EXPECT_THAT(lake::RenderId(Text("r000"), guid, id), HasSubstr("not a GUID"));
  EXPECT_THAT(lake::RenderId(Int(7), guid, id), HasSubstr("not a GUID"));
  EXPECT_THAT(lake::RenderId(Text("09Cb3942-0000-4000-8000-00000000000a"), guid, id),
              HasSubstr("mixed case"));
  EXPECT_THAT(lake::RenderId(Text("k\xFF"), text, id), HasSubstr("UTF-8"));
}

TEST(LakeValuesTest, KeyTwinsAreTheOtherKeysWrittenAsTheSameId) {
  std::vector<StoredValue> twins;
  const SourceColumn guid = Column(ValueType::kGuid, "GUID");
  lake::KeyTwins(Text("09cb3942-0000-4000-8000-00000000000a"), guid,
                 "09cb3942-0000-4000-8000-00000000000a", twins);
  ASSERT_EQ(twins.size(), 1u);
  EXPECT_EQ(twins[0].bytes, "09CB3942-0000-4000-8000-00000000000A");
  lake::KeyTwins(Text("09CB3942-0000-4000-8000-00000000000A"), guid,
                 "09cb3942-0000-4000-8000-00000000000a", twins);
  ASSERT_EQ(twins.size(), 1u);
  EXPECT_EQ(twins[0].bytes, "09cb3942-0000-4000-8000-00000000000a");
  // No affinity: an integer 1 and a real 1.0 are twins of a text '1'.
  const SourceColumn none = Column(ValueType::kString, "");
  lake::KeyTwins(Text("1"), none, "1", twins);
  ASSERT_EQ(twins.size(), 2u);
  EXPECT_EQ(twins[0].kind, Value::Kind::kInt);
  EXPECT_EQ(twins[1].kind, Value::Kind::kReal);
  // TEXT affinity: numbers become text, but a blob keeps its bytes.
  const SourceColumn text = Column(ValueType::kString, "TEXT");
  lake::KeyTwins(Text("abcd"), text, "abcd", twins);
  ASSERT_EQ(twins.size(), 1u);
  EXPECT_EQ(twins[0].kind, Value::Kind::kBlob);
  lake::KeyTwins(Text("r000"), text, "r000", twins);  // "r000" decodes, and re-encodes the same
  EXPECT_EQ(twins.size(), 1u);
  lake::KeyTwins(Text("r00"), text, "r00", twins);
  EXPECT_TRUE(twins.empty());
  // An INTEGER key column holds no twins of an integer.
  lake::KeyTwins(Int(5), Column(ValueType::kInt64, "INTEGER"), "5", twins);
  EXPECT_TRUE(twins.empty());
}

// --- Point 6: numbers -----------------------------------------------------------

TEST(LakeValuesTest, DecimalsArePlainWithinTheirDeclaredPrecisionAndScale) {
  const SourceColumn d = Column(ValueType::kDecimal, "DECIMAL");
  EXPECT_EQ(Render(d, Real(-0.0001)), "-0.0001");
  EXPECT_EQ(Render(d, Real(1e-7)), "0.0000001");
  EXPECT_EQ(Render(d, Real(1e-11)), "0");  // below the scale of 10
  EXPECT_EQ(Render(d, Real(-0.0)), "0");
  EXPECT_EQ(Render(d, Real(0.1 + 0.2)), "0.3");
  EXPECT_EQ(Render(d, Real(123456789.125)), "123456789.125");
  EXPECT_EQ(Render(d, Real(1e20)), "100000000000000000000");
  EXPECT_THAT(Render(d, Real(1e30)), HasSubstr("FAIL: a number out of the range"));
  EXPECT_THAT(Render(d, Real(std::nan(""))), HasSubstr("FAIL"));
  EXPECT_EQ(Render(d, Int(-42)), "-42");
  const SourceColumn money = Column(ValueType::kDecimal, "DECIMAL(5,2)", 5, 2);
  EXPECT_EQ(Render(money, Real(123.456)), "123.46");
  EXPECT_EQ(Render(money, Real(-999.99)), "-999.99");
  EXPECT_THAT(Render(money, Real(1234.5)), HasSubstr("FAIL"));
  EXPECT_EQ(Render(money, Int(999)), "999");
  EXPECT_THAT(Render(money, Int(1000)), HasSubstr("FAIL"));
  // Text: exact, normalised, never rounded.
  EXPECT_EQ(Render(d, Text("-0.0001")), "-0.0001");
  EXPECT_EQ(Render(d, Text("1e-4")), "0.0001");
  EXPECT_EQ(Render(d, Text("+00012.500")), "12.5");
  EXPECT_EQ(Render(d, Text("-1.5E+3")), "-1500");
  EXPECT_EQ(Render(d, Text("-0")), "0");
  EXPECT_EQ(Render(d, Text("12345678901234567890123456.5")), "12345678901234567890123456.5");
  EXPECT_THAT(Render(d, Text("1.23456789012")), HasSubstr("FAIL: a decimal with more fraction"));
  EXPECT_THAT(Render(d, Text("abc")), HasSubstr("FAIL: text that is not a number"));
  EXPECT_THAT(Render(d, Text("")), HasSubstr("FAIL"));
  EXPECT_THAT(Render(d, Text("1e")), HasSubstr("FAIL"));
}

TEST(LakeValuesTest, DecimalShapeComesFromTheDeclaredType) {
  int p = 0, s = 0;
  lake::DecimalShape("DECIMAL(18,4)", p, s);
  EXPECT_EQ(std::make_pair(p, s), std::make_pair(18, 4));
  lake::DecimalShape("numeric( 9 , 3 )", p, s);
  EXPECT_EQ(std::make_pair(p, s), std::make_pair(9, 3));
  lake::DecimalShape("NUMERIC(10)", p, s);
  EXPECT_EQ(std::make_pair(p, s), std::make_pair(10, 0));
  lake::DecimalShape("NUMERIC", p, s);
  EXPECT_EQ(std::make_pair(p, s), std::make_pair(38, 10));
  lake::DecimalShape("DECIMAL(50,2)", p, s);  // beyond what readers take
  EXPECT_EQ(std::make_pair(p, s), std::make_pair(38, 10));
}

TEST(LakeValuesTest, DoublesAreShortestAndNonNumbersAreRefused) {
  const SourceColumn r = Column(ValueType::kDouble, "REAL");
  EXPECT_EQ(Render(r, Real(0.1)), "0.1");
  EXPECT_EQ(Render(r, Real(1e300)), "1e+300");
  EXPECT_EQ(Render(r, Real(std::numeric_limits<double>::quiet_NaN())), "NaN");
  EXPECT_EQ(Render(r, Real(-std::numeric_limits<double>::infinity())), "-Infinity");
  EXPECT_EQ(Render(r, Text("1.50")), "1.5");
  EXPECT_THAT(Render(r, Text("abc")), HasSubstr("FAIL"));
  const SourceColumn i = Column(ValueType::kInt64, "INTEGER");
  EXPECT_EQ(Render(i, Real(5.0)), "5");
  EXPECT_THAT(Render(i, Real(5.5)), HasSubstr("FAIL"));
  EXPECT_THAT(Render(i, Text("abc")), HasSubstr("FAIL: text that is not an integer"));
  EXPECT_THAT(Render(i, Blob("x")), HasSubstr("FAIL"));
}

// --- Point 8: datetimes -----------------------------------------------------------

TEST(LakeValuesTest, DatetimesKeepTheSourcesFractionalSeconds) {
  const SourceColumn dt = Column(ValueType::kDateTime, "DATETIME");
  EXPECT_EQ(Render(dt, Text("2024-05-01T12:34:56.789Z")), "2024-05-01T12:34:56.789Z");
  EXPECT_EQ(Render(dt, Text("2024-05-01 12:34:56.1234567891")), "2024-05-01T12:34:56.1234567Z");
  EXPECT_EQ(Render(dt, Text("2024-05-01T12:34:56.000Z")), "2024-05-01T12:34:56Z");
  EXPECT_EQ(Render(dt, Text("2024-05-01T12:00:00.5+02:00")), "2024-05-01T10:00:00.5Z");
  EXPECT_EQ(Render(dt, Text("2024-05-01")), "2024-05-01T00:00:00Z");
  EXPECT_EQ(Render(dt, Int(1767225600)), "2026-01-01T00:00:00Z");
  EXPECT_EQ(Render(dt, Real(1767225600.25)), "2026-01-01T00:00:00.25Z");
  EXPECT_EQ(Render(dt, Real(1767225600.123456)), "2026-01-01T00:00:00.123456Z");
  // The limits: truncated to 7 digits, never rounded up into year 10000.
  EXPECT_EQ(Render(dt, Text("9999-12-31T23:59:59.999999999Z")), "9999-12-31T23:59:59.9999999Z");
  EXPECT_EQ(Render(dt, Text("9999-12-31T23:59:59.999999999Z"), true),
            "9999-12-31T23:59:59.9999999+00:00");
  EXPECT_EQ(Render(dt, Text("0001-01-01T00:00:00Z")), "0001-01-01T00:00:00Z");
  EXPECT_EQ(Render(dt, Text("2024-05-01T12:34:56.789Z"), true),
            "2024-05-01T12:34:56.7890000+00:00");
  EXPECT_THAT(Render(dt, Text("not a date")), HasSubstr("FAIL: text that is not a datetime"));
  EXPECT_THAT(Render(dt, Text("10000-01-01T00:00:00Z")), HasSubstr("FAIL"));
  EXPECT_THAT(Render(dt, Real(1e300)), HasSubstr("FAIL"));
  auto t = lake::DateTimeOf(Text("2024-05-01T12:34:56.5Z"));
  ASSERT_TRUE(t);
  EXPECT_DOUBLE_EQ(*t, 1714566896.5);
}

// --- The general principle: a value that is not its column's type -------------------

TEST(LakeValuesTest, ValuesThatAreNotTheirColumnsTypeAreRefusedNotKeptAsWritten) {
  const SourceColumn b = Column(ValueType::kBoolean, "BOOLEAN");
  EXPECT_EQ(Render(b, Int(1)), "True");
  EXPECT_EQ(Render(b, Text("FALSE")), "False");
  EXPECT_THAT(Render(b, Text("maybe")), HasSubstr("FAIL"));
  EXPECT_THAT(Render(b, Int(2)), HasSubstr("FAIL"));
  const SourceColumn g = Column(ValueType::kGuid, "UUID");
  EXPECT_EQ(Render(g, Text("6F1C0000-0000-4000-8000-00000000000A")),
            "6f1c0000-0000-4000-8000-00000000000a");
  EXPECT_THAT(Render(g, Text("r000")), HasSubstr("FAIL: a value that is not a GUID"));
}

// --- Source typing (points 5 and 6) ---------------------------------------------

TEST(LakeValuesTest, SourceTypesComeFromTheDeclaredTypeOnly) {
  const fs::path dir = fs::temp_directory_path() / ("lw_lakev_src_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string path = (dir / "crm.db").string();
  {
    auto db = state::Db::Open(path);
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE((*db)
                    ->Exec("CREATE TABLE t(id TEXT PRIMARY KEY, guid TEXT, g UUID, "
                           "u UNIQUEIDENTIFIER, d DECIMAL(18,4), n NUMERIC(10), m NUMERIC)")
                    .ok());
  }
  ASSERT_TRUE(EnableChangeTracking(path, {"t"}).ok());
  auto src = SqliteSource::Open(path);
  ASSERT_TRUE(src.ok());
  auto schema = (*src)->Describe("t");
  ASSERT_TRUE(schema.ok()) << schema.message();
  const auto& c = schema->columns;
  EXPECT_EQ(c[0].type, ValueType::kString);
  EXPECT_EQ(c[1].type, ValueType::kString) << "a column named guid is not a GUID by its name";
  EXPECT_EQ(c[2].type, ValueType::kGuid);
  EXPECT_EQ(c[3].type, ValueType::kGuid);
  EXPECT_EQ(c[4].type, ValueType::kDecimal);
  EXPECT_EQ(std::make_pair(c[4].precision, c[4].scale), std::make_pair(18, 4));
  EXPECT_EQ(std::make_pair(c[5].precision, c[5].scale), std::make_pair(10, 0));
  EXPECT_EQ(std::make_pair(c[6].precision, c[6].scale), std::make_pair(38, 10));
  src->reset();
  fs::remove_all(dir);
}

// --- The writer: failed records, collisions, model.json ---------------------------

class LakeValuesWriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("lw_lakev_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    schema_.name = "thing";
    schema_.columns = {Column(ValueType::kString, "TEXT"), Column(ValueType::kString, "TEXT"),
                       Column(ValueType::kDateTime, "DATETIME")};
    schema_.columns[0].name = "thingid";
    schema_.columns[1].name = "label";
    schema_.columns[2].name = "createdon";
    schema_.key = 0;
    schema_.createdon = 2;
  }
  void TearDown() override {
    lake_.reset();
    fs::remove_all(dir_);
  }
  std::unique_ptr<TableWriter> Open(bool append_only = false) {
    lake_.reset();
    auto lake = LakeDestination::Open(dir_.string());
    EXPECT_TRUE(lake.ok()) << lake.message();
    lake_ = std::move(lake).value();
    TableOptions options;
    options.append_only = append_only;
    auto w = lake_->OpenTable(schema_, options, "");
    EXPECT_TRUE(w.ok()) << w.message();
    return std::move(w).value();
  }
  static Status Put(TableWriter& w, Value key, Value label, int64_t version, int64_t twins = 0,
                    bool deleted = false) {
    std::vector<Value> values = {key, label, Text("2026-03-01T00:00:00Z")};
    RowView r;
    r.version = version;
    r.key = key;
    r.deleted = deleted;
    r.key_twins = twins;
    if (!deleted) r.values = values;
    return w.Put(r);
  }
  std::string Partition() {
    auto text = ReadFile((dir_ / "thing" / "2026.csv").string());
    return text.ok() ? *text : "<missing>";
  }
  nlohmann::json Attributes() {
    auto model = nlohmann::json::parse(*ReadFile((dir_ / "model.json").string()));
    for (const auto& e : model["entities"]) {
      if (e["name"] == "thing") return e["attributes"];
    }
    return {};
  }

  fs::path dir_;
  TableSchema schema_;
  std::unique_ptr<LakeDestination> lake_;
};

TEST_F(LakeValuesWriterTest, ANonGuidKeyIsAStringIdAndAGuidKeyAGuid) {
  Open();
  EXPECT_EQ(Attributes()[0]["dataType"], "string");
  schema_.columns[0].type = ValueType::kGuid;
  Open();
  EXPECT_EQ(Attributes()[0]["dataType"], "guid");
}

TEST_F(LakeValuesWriterTest, InitialCollisionsLeaveBothRowsOutAsFailedRecords) {
  schema_.columns[0].type = ValueType::kGuid;
  schema_.columns[0].declared_type = "GUID";
  auto w = Open();
  ASSERT_TRUE(w->Begin(true, 1767225600).ok());
  ASSERT_TRUE(Put(*w, Text("09CB3942-0000-4000-8000-00000000000A"), Text("upper"), 1).ok());
  ASSERT_TRUE(Put(*w, Text("11111111-0000-4000-8000-00000000000a"), Text(""), 2).ok());
  ASSERT_TRUE(Put(*w, Text("09cb3942-0000-4000-8000-00000000000a"), Text("lower"), 3).ok());
  ASSERT_TRUE(Put(*w, Text("r000"), Text("not a guid"), 4).ok());
  auto r = w->Commit();
  ASSERT_TRUE(r.ok()) << r.message();
  EXPECT_EQ(r->records, 1);
  ASSERT_EQ(r->failed.size(), 2u);
  EXPECT_EQ(r->failed[0].id, "09cb3942-0000-4000-8000-00000000000a");
  EXPECT_THAT(r->failed[0].reason, HasSubstr("same Id"));
  EXPECT_EQ(r->failed[1].id, "r000");
  EXPECT_THAT(r->failed[1].reason, HasSubstr("not a GUID"));
  const std::string csv = Partition();
  EXPECT_THAT(csv, ::testing::Not(HasSubstr("09cb3942")));
  EXPECT_THAT(csv, HasSubstr("11111111-0000-4000-8000-00000000000a,"));
  EXPECT_THAT(csv, HasSubstr(",\"\",")) << "the empty label is \"\"";
}

TEST_F(LakeValuesWriterTest, AChangeThatCannotBeWrittenRemovesTheRecordInPlace) {
  auto w = Open();
  ASSERT_TRUE(w->Begin(true, 1767225600).ok());
  ASSERT_TRUE(Put(*w, Text("a"), Text("one"), 1).ok());
  ASSERT_TRUE(Put(*w, Text("b"), Text("two"), 2).ok());
  ASSERT_TRUE(w->Commit().ok());
  // "a" now collides with another source row (a blob whose base64 is "a"
  // cannot be, but the engine says so): it leaves the lake.
  w->ReportSyncedIds(true);
  ASSERT_TRUE(w->Begin(false, 1767225700).ok());
  ASSERT_TRUE(Put(*w, Text("a"), Text("one again"), 3, /*twins=*/1).ok());
  ASSERT_TRUE(Put(*w, Text("b"), Text("bad\xFFtext"), 4).ok());
  auto r = w->Commit();
  ASSERT_TRUE(r.ok()) << r.message();
  EXPECT_EQ(r->records, 1);
  ASSERT_EQ(r->failed.size(), 1u);
  EXPECT_EQ(r->failed[0].id, "a");
  EXPECT_EQ(r->synced_ids, std::vector<std::string>{"b"});
  EXPECT_EQ(r->invalid_text, 1);
  const std::string csv = Partition();
  EXPECT_THAT(csv, ::testing::StartsWith("b,"));
  EXPECT_THAT(csv, HasSubstr("bad\xEF\xBF\xBDtext"));
}

TEST_F(LakeValuesWriterTest, AppendOnlyWritesADeleteRowForAFailedChange) {
  schema_.columns[2].type = ValueType::kDateTime;
  auto w = Open(/*append_only=*/true);
  ASSERT_TRUE(w->Begin(false, 1767225600).ok());
  ASSERT_TRUE(Put(*w, Text("a"), Text("x"), 1, /*twins=*/2).ok());
  auto r = w->Commit();
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->failed.size(), 1u);
  auto text = ReadFile((dir_ / "thing" / "2026.csv").string());
  ASSERT_TRUE(text.ok());
  EXPECT_THAT(*text, HasSubstr(",1,True\n"));
}

// --- The state store: failed records, status -------------------------------------

TEST(FailedRecordsTest, AreUpsertedPerIdForgottenWhenSyncedAndShownInStatus) {
  const fs::path dir = fs::temp_directory_path() / ("lw_lakev_state_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  auto store = state::StateStore::Open((dir / "state.db").string());
  ASSERT_TRUE(store.ok()) << store.message();
  state::Db& db = (*store)->db();
  LinkedTable t;
  t.profile_name = "p";
  t.entity = "thing";
  ASSERT_TRUE(
      RecordFailedRecords(db, t, {{"a", 3, "first"}, {"b", 4, "column x: bad"}}, {}, false, 10)
          .ok());
  ASSERT_TRUE(RecordFailedRecords(db, t, {{"a", 5, "column y: worse"}}, {"b"}, false, 20).ok());
  auto n = CountFailedRecords(db, t);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 1);
  auto snap = state::ReadSnapshot(db);
  ASSERT_TRUE(snap.ok());
  ASSERT_EQ(snap->failed_records.size(), 1u);
  EXPECT_EQ(snap->failed_records[0].count, 1);
  EXPECT_EQ(snap->failed_records[0].latest_reason, "column y: worse");
  // An initial sync replaces them all.
  ASSERT_TRUE(RecordFailedRecords(db, t, {}, {}, true, 30).ok());
  EXPECT_EQ(*CountFailedRecords(db, t), 0);
  store->reset();
  fs::remove_all(dir);
}

// The engine end to end: a collision found by the initial sync, one found by
// an incremental change (the other case form inserted later), each a failed
// record in the state store and the counter, the lake without them.
TEST(SyncEngineFailedRecordsTest, CollisionsAreFailedRecordsInTheStoreAndTheCounter) {
  const fs::path dir = testing::FreshTestDir("lw_lakev_engine");
  const std::string src = (dir / "crm.db").string();
  {
    auto db = state::Db::Open(src);
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE(
        (*db)
            ->Exec("CREATE TABLE g(gid GUID PRIMARY KEY, label TEXT, createdon TEXT);"
                   "INSERT INTO g VALUES ('0A000000-0000-4000-8000-00000000000B', 'u', "
                   "'2025-01-01T00:00:00Z'), ('0a000000-0000-4000-8000-00000000000b', 'l', "
                   "'2025-01-01T00:00:00Z'), ('c0000000-0000-4000-8000-00000000000d', 'ok', "
                   "'2025-01-01T00:00:00Z');"
                   // The same, append only: the engine asks the source.
                   "CREATE TABLE ga(gid GUID PRIMARY KEY, label TEXT);"
                   "INSERT INTO ga SELECT gid, label FROM g;")
            .ok());
  }
  ASSERT_TRUE(EnableChangeTracking(src, {"g", "ga"}).ok());
  EngineOptions options;
  options.state_db = (dir / "state.db").string();
  options.supervise_every = Millis(100);
  ProfileConfig profile = testing::LakeProfile(src, (dir / "lake").string(), {"g"});
  profile.tables = {{"g"}, {"ga", true}};
  options.profiles = {profile};
  prometheus::Registry registry;
  SyncMetrics metrics(registry);
  ManualClock clock(FromEpochSeconds(1767225600));
  SyncEngine engine(options, clock, metrics);
  auto value = [&](const char* name, const std::map<std::string, std::string>& labels) {
    return fakes::MetricValue(registry, name, labels).value_or(0);
  };
  ASSERT_TRUE(engine.Start().ok());
  auto failed_ids = [&](const char* entity = "g") {
    std::vector<std::string> ids;
    auto db = state::Db::Open(options.state_db);
    if (!db.ok()) return ids;
    auto st = (*db)->Prepare(
        "SELECT id || ' ' || reason FROM linkwatch_sync_failed_record WHERE entity = ?1 "
        "ORDER BY id");
    if (!st.ok()) return ids;
    st->Bind(1, entity);
    while (st->Step()) ids.push_back(st->Text(0));
    return ids;
  };
  // The engine's rounds on the manual clock until the predicate holds.
  auto wait_for = [&](auto predicate) { return testing::RunUntil(clock, options, predicate); };
  const std::map<std::string, std::string> labels{{"profile", "crm"}, {"entity", "g"}};
  ASSERT_TRUE(wait_for([&] { return failed_ids().size() == 1; }));
  EXPECT_THAT(failed_ids()[0], ::testing::StartsWith("0a000000-0000-4000-8000-00000000000b "));
  EXPECT_THAT(failed_ids()[0], HasSubstr("same Id"));
  EXPECT_EQ(value("linkwatch_sync_failed_records_total", labels), 1);
  EXPECT_EQ(value("linkwatch_sync_invalid_text_total", labels), 0);
  ASSERT_TRUE(wait_for([&] { return failed_ids("ga").size() == 1; }));
  EXPECT_THAT(failed_ids("ga")[0], ::testing::StartsWith("0a000000-0000-4000-8000-00000000000b "));
  {
    auto db = state::Db::Open(src);
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE((*db)
                    ->Exec("INSERT INTO g VALUES ('C0000000-0000-4000-8000-00000000000D', 'up', "
                           "'2025-01-01T00:00:00Z')")
                    .ok());
  }
  ASSERT_TRUE(wait_for([&] { return failed_ids().size() == 2; }));
  EXPECT_THAT(failed_ids()[1], ::testing::StartsWith("c0000000-0000-4000-8000-00000000000d "));
  EXPECT_TRUE(wait_for([&] { return value("linkwatch_sync_failed_records_total", labels) == 2; }));
  engine.Stop();
  // (A partition that became empty may be gone or kept empty.)
  auto csv = ReadFile((dir / "lake" / "g" / "2025.csv").string());
  EXPECT_EQ(csv.ok() ? *csv : "", "") << "neither form of either GUID is in the lake";
  // Append only: the good GUID, then a delete row for it once it collided.
  std::string all;
  for (const auto& e : fs::directory_iterator(dir / "lake" / "ga")) {
    if (e.path().extension() == ".csv") all += *ReadFile(e.path().string());
  }
  EXPECT_THAT(all, ::testing::Not(HasSubstr("0a000000")));
  EXPECT_THAT(all, HasSubstr("c0000000-0000-4000-8000-00000000000d,"));
  fs::remove_all(dir);
}

}  // namespace
}  // namespace linkwatch::sync
