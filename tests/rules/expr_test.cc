#include <gtest/gtest.h>

#include "agent/core/time_format.h"
#include "rules/expr_program.h"
#include "tests/rules/test_snapshot.h"

namespace linkwatch::rules {
namespace {

using state::TableId;
using namespace testing;  // NOLINT

constexpr const char* kNow = "2026-01-01T01:00:00Z";

// One profile "crm" (Active) with table "account" that has a profile entity,
// an external table row and a schedule; a second entity row "contact" with a
// dangling profile lookup.
class ExprTest : public ::testing::Test {
 protected:
  void SetUp() override {
    int p =
        AddRow(snap_, TableId::kProfile,
               {{"synapselinkprofileid", T("p-1")}, {"name", T("crm")}, {"profilestate", N(1)}});
    (void)p;
    AddRow(snap_, TableId::kProfileEntity,
           {{"synapselinkprofileentityid", T("pe-1")},
            {"name", T("account")},
            {"entityname", T("account")},
            {"profile", T("p-1")},
            {"appendonlymode", N(0)}});
    AddRow(snap_, TableId::kEntityState,
           {{"entityname", T("account")},
            {"profile", T("p-1")},
            {"profileentity", T("pe-1")},
            {"syncstate", N(2)},
            {"initialsyncstate", N(4)},
            {"crmrecordcount", N(1000)},
            {"lakerecordcount", N(900)},
            {"lastsynceddatatime", D("2026-01-01T00:40:00Z")}});
    AddRow(snap_, TableId::kEntityState,
           {{"entityname", T("contact")}, {"profile", T("missing")}, {"syncstate", N(4)}});
    AddRow(snap_, TableId::kExternalTableState,
           {{"entityname", T("account")},
            {"synapseworkspacename", T("crm")},
            {"tablestate", N(2)},
            {"recordcount", N(7)}});
    AddRow(snap_, TableId::kSchedule,
           {{"profile", T("p-1")},
            {"type", N(0)},
            {"recurrenceinterval", N(1)},
            {"recurrenceunit", N(2)}});
  }

  // Compiles `text` for `subject` and evaluates it on subject row `row`.
  Value Eval(const std::string& text, Subject subject = Subject::kEntity, int row = 0,
             bool value_node = false) {
    ExprEnv env;
    env.subject = subject;
    ExprError err;
    auto e = Expr::Compile(text, env, err);
    EXPECT_TRUE(e.has_value()) << text << ": " << err.message << " at " << err.offset;
    if (!e) return Value::Null();
    exprs_.push_back(std::move(*e));
    const Expr& x = exprs_.back();
    index_ = std::make_unique<SnapshotIndex>(snap_);
    x.Prepare(*index_, subject);
    EvalContext ctx;
    ctx.index = index_.get();
    ctx.rows = index_->Joins(subject)[row].data();
    ctx.now = *ParseDateTime(kNow);
    last_type_ = value_node ? x.value_type() : x.type();
    return value_node ? x.EvalValue(ctx) : x.Eval(ctx);
  }
  std::string Show(const std::string& text, Subject subject = Subject::kEntity, int row = 0) {
    Value v = Eval(text, subject, row);
    return v.is_null() ? "null" : FormatValue(v, last_type_);
  }
  ExprError Error(const std::string& text, Subject subject = Subject::kEntity,
                  bool require_bool = false) {
    ExprEnv env;
    env.subject = subject;
    env.require_bool = require_bool;
    ExprError err;
    auto e = Expr::Compile(text, env, err);
    EXPECT_FALSE(e.has_value()) << text << " compiled";
    return err;
  }

  state::Snapshot snap_;
  std::vector<Expr> exprs_;
  std::unique_ptr<SnapshotIndex> index_;
  TypeInfo last_type_;
};

TEST_F(ExprTest, PrecedenceFollowsTheContract) {
  EXPECT_EQ(Show("1 + 2 * 3"), "7");
  EXPECT_EQ(Show("(1 + 2) * 3"), "9");
  EXPECT_EQ(Show("-2 * 3"), "-6");
  EXPECT_EQ(Show("10 - 4 - 3"), "3");
  EXPECT_EQ(Show("7 / 2"), "3.5");  // real division
  EXPECT_EQ(Show("true or false and false"), "true");
  EXPECT_EQ(Show("not 1 == 2"), "true");  // not (1 == 2)
  EXPECT_EQ(Show("not true and false"), "false");
  EXPECT_EQ(Show("not (true and false)"), "true");
  EXPECT_EQ(Show("1 + 1 == 2 and 3 > 2"), "true");
}

TEST_F(ExprTest, NullFollowsSql) {
  EXPECT_EQ(Show("null + 1"), "null");
  EXPECT_EQ(Show("null == null"), "null");
  EXPECT_EQ(Show("1 < null"), "null");
  EXPECT_EQ(Show("not null"), "null");
  EXPECT_EQ(Show("false and null"), "false");
  EXPECT_EQ(Show("null and false"), "false");
  EXPECT_EQ(Show("true and null"), "null");
  EXPECT_EQ(Show("true or null"), "true");
  EXPECT_EQ(Show("null or true"), "true");
  EXPECT_EQ(Show("false or null"), "null");
  EXPECT_EQ(Show("1 / 0"), "null");
  EXPECT_EQ(Show("1m / 0"), "null");
  EXPECT_EQ(Show("null is null"), "true");
  EXPECT_EQ(Show("1 is not null"), "true");
  EXPECT_EQ(Show("coalesce(null, null, 3)"), "3");
  EXPECT_EQ(Show("coalesce(null)"), "null");
  EXPECT_EQ(Show("null in [1, 2]"), "null");
  EXPECT_EQ(Show("1 in [2, null]"), "null");
  EXPECT_EQ(Show("1 in [1, null]"), "true");
  EXPECT_EQ(Show("1 not in [2, 3]"), "true");
  EXPECT_EQ(Show("1 not in [2, null]"), "null");
  EXPECT_EQ(Show("1 in []"), "false");
  EXPECT_EQ(Show("max(1, null)"), "null");
  EXPECT_EQ(Show("abs(null)"), "null");
  // Null columns: contact has no lastsynceddatatime.
  EXPECT_EQ(Show("age(lastsynceddatatime) > 15m", Subject::kEntity, 1), "null");
  EXPECT_EQ(Show("lastsynceddatatime is null", Subject::kEntity, 1), "true");
}

TEST_F(ExprTest, LiteralsAndFunctions) {
  EXPECT_EQ(Show("0.01 * 1000"), "10");
  EXPECT_EQ(Show("'single' == \"single\""), "true");
  EXPECT_EQ(Show("\"a\\\"b\""), "a\"b");
  EXPECT_EQ(Show("1h30m == 90m"), "true");
  EXPECT_EQ(Show("90s"), "1m30s");
  EXPECT_EQ(Show("500ms * 4"), "2s");
  EXPECT_EQ(Show("1h / 30m"), "2");
  EXPECT_EQ(Show("datetime(\"2026-01-02T00:00:00Z\") - datetime(\"2026-01-01T00:00:00Z\")"), "1d");
  EXPECT_EQ(Show("datetime(\"2026-01-01T00:00:00Z\") + 1h"), "2026-01-01T01:00:00Z");
  EXPECT_EQ(Show("now()"), kNow);
  EXPECT_EQ(Show("age(datetime(\"2026-01-01T00:00:00Z\"))"), "1h");
  EXPECT_EQ(Show("abs(-3)"), "3");
  EXPECT_EQ(Show("abs(-3m)"), "3m");
  EXPECT_EQ(Show("max(100, 0.01 * 50000)"), "500");
  EXPECT_EQ(Show("min(1h, 20m, 2h)"), "20m");
  EXPECT_EQ(Show("coalesce(lastsynceddatatime, datetime(\"2020-01-01\"))", Subject::kEntity, 1),
            "2020-01-01T00:00:00Z");
  EXPECT_EQ(Show("TRUE and True"), "true");  // keywords are case-insensitive
}

TEST_F(ExprTest, ColumnsJoinsAndLookups) {
  EXPECT_EQ(Show("entityname"), "account");
  EXPECT_EQ(Show("profile"), "crm");  // a bare lookup is the referenced row's name
  EXPECT_EQ(Show("profileentity"), "account");
  EXPECT_EQ(Show("profile.synapselinkprofileid"), "p-1");
  EXPECT_EQ(Show("profile.profilestate"), "Active");
  EXPECT_EQ(Show("entity.appendonlymode"), "false");
  EXPECT_EQ(Show("external.tablestate"), "Failed");
  EXPECT_EQ(Show("schedule.recurrenceunit"), "Hour");
  EXPECT_EQ(Show("age(lastsynceddatatime)"), "20m");
  EXPECT_EQ(Show("abs(crmrecordcount - lakerecordcount) > max(100, 0.01 * crmrecordcount)"),
            "false");
  EXPECT_EQ(Show("abs(crmrecordcount - lakerecordcount) >= 100"), "true");
  // A join with no matching row yields null columns.
  EXPECT_EQ(Show("profile", Subject::kEntity, 1), "null");
  EXPECT_EQ(Show("profile.profilestate", Subject::kEntity, 1), "null");
  EXPECT_EQ(Show("entity.appendonlymode", Subject::kEntity, 1), "null");
  // Other subjects.
  EXPECT_EQ(Show("name", Subject::kProfile), "crm");
  EXPECT_EQ(Show("profile.name", Subject::kProfile), "crm");
  EXPECT_EQ(Show("schedule.recurrenceinterval", Subject::kProfile), "1");
  EXPECT_EQ(Show("profile.name", Subject::kExternal), "crm");
  EXPECT_EQ(Show("entity.synapselinkprofileentityid", Subject::kExternal), "pe-1");
  EXPECT_EQ(Show("external.recordcount == recordcount", Subject::kExternal), "true");
}

// linkwatch's own per-table sync record (docs/rules.md "sync."): joined by
// profile name and entityname, null where a table has none (a Dataverse
// source has none at all).
TEST_F(ExprTest, SyncJoinsLinkwatchsOwnSyncRecord) {
  EXPECT_EQ(Show("sync.lastbreakreason"), "null");
  EXPECT_EQ(Show("age(sync.lastbreaktime) < 1h"), "null");
  AddRow(snap_, TableId::kSync,
         {{"profile", T("crm")},
          {"entityname", T("account")},
          {"error", T("the sync broke")},
          {"errorreason", T("partition_missing")},
          {"errorattempts", N(2)},
          {"lastbreakreason", T("partition_missing")},
          {"lastbreaktime", D("2026-01-01T00:50:00Z")}});
  EXPECT_EQ(Show("sync.lastbreakreason"), "partition_missing");
  EXPECT_EQ(Show("sync.errorattempts + 1"), "3");
  EXPECT_EQ(Show("age(sync.lastbreaktime) < 1h"), "true");
  EXPECT_EQ(Show("sync.lastrepairtime is null"), "true");
  EXPECT_EQ(Show("sync.error", Subject::kEntity, 1), "null");  // no profile, no record
  EXPECT_EQ(Show("sync.errorreason", Subject::kExternal), "partition_missing");
  auto e = Error("sync.error is null", Subject::kProfile);
  EXPECT_NE(e.message.find("sync.<column> is not available in on: profile"), std::string::npos);
  e = Error("sync.lastbreaktim is null");
  EXPECT_NE(e.message.find("linkwatch_sync (did you mean \"lastbreaktime\"?)"), std::string::npos)
      << e.message;
  e = Error("age(sync.lastbreaktime) < 3600");
  EXPECT_NE(e.message.find("durations"), std::string::npos) << e.message;
  e = Error("snyc.error is null");
  EXPECT_NE(e.message.find("did you mean \"sync.\""), std::string::npos) << e.message;
}

TEST_F(ExprTest, ChoicesCompareWithLabelsOrCodes) {
  EXPECT_EQ(Show("syncstate == \"InProgress\""), "true");
  EXPECT_EQ(Show("syncstate == \"inprogress\""), "true");  // case-insensitive
  EXPECT_EQ(Show("syncstate == 2"), "true");
  EXPECT_EQ(Show("\"InProgress\" == syncstate"), "true");
  EXPECT_EQ(Show("syncstate != 'Completed'"), "true");
  EXPECT_EQ(Show("syncstate in ['Completed', 'InProgress']"), "true");
  EXPECT_EQ(Show("initialsyncstate not in ['Completed', 'CompletedWithFailures']"), "false");
  EXPECT_EQ(Show("syncstate == initialsyncstate"), "false");
  EXPECT_EQ(Show("coalesce(metadatastate, 'None') == 'None'"), "true");
  EXPECT_EQ(Show("syncstate"), "InProgress");
}

TEST_F(ExprTest, ValueIsTheMeasuredQuantity) {
  Value v = Eval("syncstate == \"InProgress\" and age(lastsynceddatatime) > 15m", Subject::kEntity,
                 0, /*value_node=*/true);
  EXPECT_EQ(FormatValue(v, last_type_), "20m");
  v = Eval("profilestate in ['Error', 'Active']", Subject::kProfile, 0, true);
  EXPECT_EQ(FormatValue(v, last_type_), "Active");
  v = Eval("syncstate == 'InProgress' or false", Subject::kEntity, 0, true);
  EXPECT_EQ(FormatValue(v, last_type_), "true");
}

TEST_F(ExprTest, TypeErrorsPointAtTheirColumn) {
  auto e = Error("age(lastsynceddatatime) > 900");
  EXPECT_EQ(e.offset, 24);
  EXPECT_NE(e.message.find("cannot compare duration with number"), std::string::npos) << e.message;
  EXPECT_NE(e.message.find("900s"), std::string::npos);

  e = Error("syncstate == \"Running\"");
  EXPECT_EQ(e.offset, 13);
  EXPECT_NE(e.message.find("unknown label \"Running\""), std::string::npos) << e.message;
  EXPECT_NE(e.message.find("InProgress (2)"), std::string::npos) << e.message;

  e = Error("syncstate > 'InProgress'");
  EXPECT_EQ(e.offset, 10);
  EXPECT_NE(e.message.find("only ==, != and in"), std::string::npos) << e.message;

  e = Error("syncstate == entityname");
  EXPECT_NE(e.message.find("compares only with its labels"), std::string::npos) << e.message;
  e = Error("syncstate == metadatastate");
  EXPECT_EQ(e.offset, 13);

  e = Error("entityname == 3");
  EXPECT_NE(e.message.find("cannot compare string with number"), std::string::npos);
  e = Error("lastsynceddatatime > '2026-01-01'");
  EXPECT_NE(e.message.find("datetime(\""), std::string::npos) << e.message;
  e = Error("entity.appendonlymode == 0");
  EXPECT_NE(e.message.find("true and false"), std::string::npos) << e.message;
  e = Error("1m + 1");
  EXPECT_EQ(e.offset, 3);
  e = Error("crmrecordcount and true");
  EXPECT_EQ(e.offset, 0);
  EXPECT_NE(e.message.find("boolean"), std::string::npos);
  e = Error("true < false");
  EXPECT_NE(e.message.find("booleans"), std::string::npos);
  e = Error("age(crmrecordcount)");
  EXPECT_EQ(e.offset, 4);
  e = Error("crmrecordcount + 1", Subject::kEntity, /*require_bool=*/true);
  EXPECT_NE(e.message.find("must be boolean"), std::string::npos);
  e = Error("datetime('yesterday')");
  EXPECT_EQ(e.offset, 9);
  e = Error("max(1, 1m)");
  EXPECT_EQ(e.offset, 7);
  e = Error("1 in [1, 'x']");
  EXPECT_EQ(e.offset, 9);
}

TEST_F(ExprTest, NameErrorsSuggestTheNearestName) {
  auto e = Error("syncstat == 'InProgress'");
  EXPECT_EQ(e.offset, 0);
  EXPECT_EQ(e.message,
            "unknown column \"syncstat\" of synapselinkprofileentitystate (did you mean "
            "\"syncstate\"?)");
  e = Error("true and profile.profilestat == 'Active'");
  EXPECT_EQ(e.offset, 9);
  EXPECT_NE(e.message.find("synapselinkprofile (did you mean \"profilestate\"?)"),
            std::string::npos);
  e = Error("profil.name == 'x'");
  EXPECT_NE(e.message.find("did you mean \"profile.\""), std::string::npos) << e.message;
  e = Error("entity.appendonlymode", Subject::kProfile);
  EXPECT_NE(e.message.find("not available in on: profile"), std::string::npos);
  e = Error("agee(lastsynceddatatime)");
  EXPECT_NE(e.message.find("did you mean \"age\""), std::string::npos);
  e = Error("age(1, 2)");
  EXPECT_NE(e.message.find("takes 1 argument, got 2"), std::string::npos) << e.message;
  e = Error("$value > 1");
  EXPECT_NE(e.message.find("only available in templates"), std::string::npos);
}

TEST_F(ExprTest, SyntaxErrorsPointAtTheirColumn) {
  EXPECT_EQ(Error("syncstate = 2").offset, 10);
  EXPECT_EQ(Error("1 < 2 < 3").offset, 6);
  EXPECT_EQ(Error("(1 + 2").offset, 0);
  EXPECT_EQ(Error("1 + 2)").offset, 5);
  EXPECT_EQ(Error("1 +").offset, 3);
  EXPECT_EQ(Error("'abc").offset, 0);
  EXPECT_EQ(Error("x in 1").offset, 5);
  EXPECT_EQ(Error("x is 1").offset, 5);
  EXPECT_EQ(Error("15x > 1m").offset, 0);
  EXPECT_EQ(Error("1 && 2").offset, 2);
  EXPECT_EQ(Error("a # b").offset, 2);
  EXPECT_EQ(Error("").offset, 0);
  EXPECT_EQ(Error("[1]").offset, 0);
  // Found by expr_fuzz: a duration that overflows is an error, not UB.
  EXPECT_NE(Error("9999999999y > 1s").message.find("out of range"), std::string::npos);
  EXPECT_NE(Error("1 > 99999999999999999999s").message.find("out of range"), std::string::npos);
}

TEST_F(ExprTest, HostileNestingIsAnErrorNotACrash) {
  std::string deep(5000, '(');
  deep += "1";
  deep += std::string(5000, ')');
  EXPECT_NE(Error(deep).message.find("nested too deeply"), std::string::npos);
  std::string chain = "1";
  for (int i = 0; i < 5000; ++i) chain += " + 1";
  EXPECT_NE(Error(chain).message.find("nested too deeply"), std::string::npos);
  std::string nots;
  for (int i = 0; i < 5000; ++i) nots += "not ";
  nots += "true";
  EXPECT_NE(Error(nots).message.find("nested too deeply"), std::string::npos);
  // Long flat lists are fine.
  std::string list = "1 in [";
  for (int i = 0; i < 5000; ++i) list += std::to_string(i) + ",";
  list += "1]";
  EXPECT_EQ(Show(list), "true");
}

// Issue 7 point 17: a flat chain of `or` (or `and`) terms is not nesting.
TEST_F(ExprTest, LongOrAndChainsAreNotNesting) {
  std::string ors = "syncstate == 100";
  for (int i = 101; i < 300; ++i) ors += " or syncstate == " + std::to_string(i);
  EXPECT_EQ(Show(ors), "false");
  EXPECT_EQ(Show(ors + " or syncstate == 2"), "true");
  EXPECT_EQ(Show("syncstate == 2 or " + ors), "true");
  // SQL nulls: true or null is true, false or null is null, whatever the order.
  EXPECT_EQ(Show(ors + " or null"), "null");
  EXPECT_EQ(Show(ors + " or null or syncstate == 2"), "true");
  std::string ands = "crmrecordcount > 0";
  for (int i = 0; i < 2000; ++i) ands += " and crmrecordcount > " + std::to_string(i % 900);
  EXPECT_EQ(Show(ands), "true");
  EXPECT_EQ(Show(ands + " and null"), "null");
  EXPECT_EQ(Show("false and " + ands + " and null"), "false");
  // The total size is still bounded.
  std::string huge = "true";
  for (int i = 0; i < 20000; ++i) huge += " or true";
  EXPECT_NE(Error(huge).message.find("too long"), std::string::npos) << Error(huge).message;
  // Errors inside a chain still point at their term.
  const std::string bad = "syncstate == 1 or syncstate == 2 or syncstat == 3";
  EXPECT_EQ(Error(bad).offset, static_cast<int>(bad.find("syncstat ")));
}

// Issue 7 point 17: a non-ASCII byte was shown as "\x195" (decimal).
TEST_F(ExprTest, UnexpectedBytesAreShownAsHexAndUtf8AsIs) {
  EXPECT_EQ(Error("syncstate == 2 \xC3").message, "unexpected character \"\\xC3\"");
  EXPECT_EQ(Error("syncstate == 2 \x01").message, "unexpected character \"\\x01\"");
  EXPECT_EQ(Error("syncstate == 2 \xC3\xA9").message, "unexpected character \"\xC3\xA9\"");
  EXPECT_EQ(Error("syncstate == 2 \xE2\x82\xAC").message, "unexpected character \"\u20AC\"");
  // Overlong and surrogate encodings are not valid UTF-8.
  EXPECT_EQ(Error("syncstate == 2 \xC0\x80").message, "unexpected character \"\\xC0\"");
  EXPECT_EQ(Error("syncstate == 2 \xED\xA0\x80").message, "unexpected character \"\\xED\"");
}

}  // namespace
}  // namespace linkwatch::rules

namespace linkwatch::rules {
namespace {

using state::TableId;
using namespace testing;  // NOLINT

// The batch evaluator (the engine's hot path) and the scalar one (templates,
// $value) must agree on every row, nulls included.
TEST(ExprBatchTest, BatchAndScalarEvaluationAgree) {
  state::Snapshot snap;
  AddRow(snap, TableId::kProfile,
         {{"synapselinkprofileid", T("p-1")}, {"name", T("crm")}, {"profilestate", N(1)}});
  AddRow(snap, TableId::kProfile,
         {{"synapselinkprofileid", T("p-2")}, {"name", T("erp")}, {"profilestate", N(2)}});
  AddRow(snap, TableId::kProfileEntity,
         {{"entityname", T("t1")}, {"profile", T("p-1")}, {"appendonlymode", N(1)}});
  const double now = *ParseDateTime("2026-01-01T12:00:00Z");
  // 600 rows (more than two batches) cycling through values and nulls.
  for (int i = 0; i < 600; ++i) {
    auto maybe = [&](int every, state::CellValue c) {
      return i % every == 0 ? state::CellValue::Null() : c;
    };
    AddRow(snap, TableId::kEntityState,
           {{"entityname", maybe(7, T("t" + std::to_string(i % 4)))},
            {"profile", maybe(11, T(i % 3 ? "p-1" : "p-2"))},
            {"syncstate", maybe(5, N(i % 2 ? 2 : 4))},
            {"initialsyncstate", maybe(3, N((i % 4) * 4))},
            {"crmrecordcount", maybe(6, N(i % 9))},
            {"lakerecordcount", maybe(4, N(i % 5))},
            {"lastsynceddatatime", maybe(8, N(now - (i % 13) * 300))},
            {"lastsynceddataversion", maybe(9, T(i % 2 ? "a" : ""))}});
  }
  const char* const kExprs[] = {
      "syncstate == 'InProgress' and age(lastsynceddatatime) > 30m",
      "profile.profilestate == 'Active' or crmrecordcount > 4",
      "not (crmrecordcount < lakerecordcount)",
      "crmrecordcount / lakerecordcount > 1",
      "crmrecordcount - lakerecordcount == 0 or lastsynceddatatime is null",
      "abs(crmrecordcount - lakerecordcount) > max(1, 0.5 * crmrecordcount)",
      "min(crmrecordcount, lakerecordcount, 3) >= 2",
      "coalesce(crmrecordcount, lakerecordcount, -1) > 0",
      "initialsyncstate in ['Completed', 'InProgress', null]",
      "initialsyncstate not in ['Completed', 'CompletedWithFailures']",
      "entityname == 't1' and entity.appendonlymode",
      "entityname < 't2' or entityname is not null and false",
      "coalesce(entityname, lastsynceddataversion) != ''",
      "lastsynceddataversion in ['a', entityname]",
      "profile == 'crm'",
      "entityname == null or null",
      "-crmrecordcount < -3 and not null",
      "lastsynceddatatime + 1h > now() and age(lastsynceddatatime) <= 2h",
      "datetime('2026-01-01T11:00:00Z') < lastsynceddatatime",
      "coalesce(initialsyncstate, 'None') == 'None'",
  };
  for (const char* text : kExprs) {
    ExprEnv env;
    ExprError err;
    auto e = Expr::Compile(text, env, err);
    ASSERT_TRUE(e.has_value()) << text << ": " << err.message;
    SnapshotIndex index(snap);
    IndexNeeds needs;
    e->AddNeeds(needs, Subject::kEntity, /*columns=*/true);
    index.Prepare(needs);
    std::vector<const void*> columns;
    e->BindColumns(index, columns);
    EvalContext ctx;
    ctx.index = &index;
    ctx.now = now;
    const auto& joins = index.Joins(Subject::kEntity);
    BatchScratch scratch;
    std::vector<double> batch(joins.size());
    for (size_t start = 0; start < joins.size(); start += Expr::kBatch) {
      const int n = static_cast<int>(std::min<size_t>(Expr::kBatch, joins.size() - start));
      ctx.columns = columns.data();
      e->EvalBatch(ctx, joins.data() + start, n, scratch, batch.data() + start);
    }
    int trues = 0, nulls = 0;
    for (size_t r = 0; r < joins.size(); ++r) {
      ctx.rows = joins[r].data();
      ctx.columns = nullptr;  // the scalar path reads the cells
      const Value v = e->Eval(ctx);
      const std::string scalar = v.is_null() ? "null" : v.number != 0 ? "true" : "false";
      const std::string batched = batch[r] != batch[r] ? "null" : batch[r] != 0 ? "true" : "false";
      ASSERT_EQ(scalar, batched) << text << " row " << r;
      trues += scalar == "true";
      nulls += scalar == "null";
    }
    EXPECT_GT(trues + nulls, 0) << text << " never true or null: a weak check";
  }
}

}  // namespace
}  // namespace linkwatch::rules
