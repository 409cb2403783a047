#include "rules/template.h"

#include <gtest/gtest.h>

#include "tests/rules/test_snapshot.h"

namespace linkwatch::rules {
namespace {

using state::TableId;
using namespace testing;  // NOLINT

class TemplateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    AddRow(snap_, TableId::kProfile,
           {{"synapselinkprofileid", T("p-1")}, {"name", T("crm")}, {"profilestate", N(1)}});
    AddRow(snap_, TableId::kEntityState,
           {{"entityname", T("account")},
            {"profile", T("p-1")},
            {"syncstate", N(2)},
            {"crmrecordcount", N(12)},
            {"lastsynceddatatime", D("2026-01-01T00:39:00Z")}});
    env_.subject = Subject::kEntity;
    env_.allow_variables = true;
    env_.label_names = {"alertname", "source", "profile", "entity", "severity"};
    env_.value_type = TypeInfo::Of(Type::kDuration);
    labels_ = {{"alertname", "SyncStalled"}, {"entity", "account"}, {"severity", "critical"}};
  }

  Template::Rendered Render(const std::string& text) {
    ExprError err;
    auto t = Template::Compile(text, env_, err);
    EXPECT_TRUE(t.has_value()) << text << ": " << err.message << " at " << err.offset;
    if (!t) return {};
    SnapshotIndex index(snap_);
    t->Prepare(index, Subject::kEntity);
    EvalContext ctx;
    ctx.index = &index;
    ctx.rows = index.Joins(Subject::kEntity)[0].data();
    ctx.now = *ParseDateTime("2026-01-01T01:00:00Z");
    ctx.labels = &labels_;
    const Value value = Value::Number(1260);
    ctx.value = &value;
    return t->Render(ctx);
  }
  std::string Text(const std::string& text) { return Render(text).text; }
  ExprError Error(const std::string& text) {
    ExprError err;
    EXPECT_FALSE(Template::Compile(text, env_, err).has_value()) << text;
    return err;
  }

  state::Snapshot snap_;
  ExprEnv env_;
  LabelSet labels_;
};

TEST_F(TemplateTest, PlainTextIsConstant) {
  ExprError err;
  auto t = Template::Compile("critical", env_, err);
  ASSERT_TRUE(t.has_value());
  EXPECT_TRUE(t->is_constant());
  EXPECT_EQ(Text("critical"), "critical");
  EXPECT_EQ(Text(""), "");
  EXPECT_EQ(Text("a } b { c }}"), "a } b { c }}");
}

TEST_F(TemplateTest, RendersValuesAsTheContractSays) {
  EXPECT_EQ(Text("{{ entityname }} in {{ profile }} has not synced for "
                 "{{ age(lastsynceddatatime) }}"),
            "account in crm has not synced for 21m");
  EXPECT_EQ(Text("{{age(lastsynceddatatime)+44m}}"), "1h5m");
  EXPECT_EQ(Text("at {{ lastsynceddatatime }}"), "at 2026-01-01T00:39:00Z");
  EXPECT_EQ(Text("{{ syncstate }}/{{ profile.profilestate }}"), "InProgress/Active");
  EXPECT_EQ(Text("[{{ lakerecordcount }}]"), "[]");  // null renders empty
  EXPECT_EQ(Text("{{ crmrecordcount / 8 }}"), "1.5");
  EXPECT_EQ(Text("{{ syncstate == 'InProgress' }}"), "true");
  EXPECT_EQ(Text("{{ \"}}\" }}"), "}}");
}

TEST_F(TemplateTest, LabelsAndValue) {
  EXPECT_EQ(Text("{{ $labels.alertname }} is {{ $labels.severity }}"), "SyncStalled is critical");
  EXPECT_EQ(Text("[{{ $labels.source }}]"), "[]");  // known but absent: empty
  EXPECT_EQ(Text("for {{ $value }}"), "for 21m");
  EXPECT_EQ(Text("{{ $value > 20m }}"), "true");
}

TEST_F(TemplateTest, CompileErrorsPointIntoTheTemplate) {
  auto e = Error("x {{ entitynam }}");
  EXPECT_EQ(e.offset, 5);
  EXPECT_NE(e.message.find("did you mean \"entityname\""), std::string::npos) << e.message;
  e = Error("ok {{ entityname ");
  EXPECT_EQ(e.offset, 3);
  EXPECT_NE(e.message.find("unclosed"), std::string::npos);
  e = Error("{{ }}");
  EXPECT_EQ(e.offset, 0);
  e = Error("{{ $labels.severty }}");
  EXPECT_EQ(e.offset, 3);
  EXPECT_NE(e.message.find("did you mean \"severity\""), std::string::npos) << e.message;
  e = Error("{{ 1 + }}");
  EXPECT_EQ(e.offset, 6);  // just after the last token
  e = Error("{{ age(lastsynceddatatime) > 900 }}");
  EXPECT_EQ(e.offset, 27);
}

TEST_F(TemplateTest, RuntimeErrorBecomesTheTextAndIsFlagged) {
  auto r = Render("since {{ datetime(entityname) }}");
  EXPECT_TRUE(r.error);
  EXPECT_EQ(r.text,
            "template error in {{ datetime(entityname) }}: invalid datetime \"account\" "
            "(expected ISO-8601 UTC, e.g. 2026-01-01T00:00:00Z)");
  r = Render("ok {{ entityname }}");
  EXPECT_FALSE(r.error);
}

}  // namespace
}  // namespace linkwatch::rules
