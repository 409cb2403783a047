// libFuzzer target for the rule expression language and templates: parses
// and type-checks the input as an expression (for every subject) and as a
// template, and evaluates whatever compiles over a small snapshot, with the
// batch and the scalar evaluator. Must never crash, hang or trip ASan/UBSan.
//
// Input: expression text, optionally followed by a NUL byte and template text.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "rules/expr_program.h"
#include "rules/template.h"

namespace {

using linkwatch::LabelSet;
using linkwatch::rules::BatchScratch;
using linkwatch::rules::EvalContext;
using linkwatch::rules::Expr;
using linkwatch::rules::ExprEnv;
using linkwatch::rules::ExprError;
using linkwatch::rules::IndexNeeds;
using linkwatch::rules::SnapshotIndex;
using linkwatch::rules::Subject;
using linkwatch::rules::Template;
using linkwatch::rules::TypeInfo;
using linkwatch::rules::Value;
using linkwatch::state::Cell;
using linkwatch::state::Snapshot;
using linkwatch::state::TableId;

void Set(Snapshot& s, TableId t, size_t row, const char* col, Cell c) {
  auto& rows = s[t].rows;
  while (rows.size() <= row) rows.emplace_back(s[t].def->columns.size());
  rows[row][s[t].def->ColumnIndex(col)] = std::move(c);
}

const Snapshot& Sample() {
  static const Snapshot snap = [] {
    Snapshot s;
    Set(s, TableId::kProfile, 0, "synapselinkprofileid", s.Text("p1"));
    Set(s, TableId::kProfile, 0, "name", s.Text("crm"));
    Set(s, TableId::kProfile, 0, "profilestate", Cell::Number(1));
    Set(s, TableId::kProfileEntity, 0, "synapselinkprofileentityid", s.Text("pe1"));
    Set(s, TableId::kProfileEntity, 0, "profile", s.Text("p1"));
    Set(s, TableId::kProfileEntity, 0, "entityname", s.Text("account"));
    Set(s, TableId::kProfileEntity, 0, "appendonlymode", Cell::Number(0));
    for (size_t r = 0; r < 3; ++r) {
      Set(s, TableId::kEntityState, r, "synapselinkprofileentitystateid",
          s.Text("es" + std::to_string(r)));
      Set(s, TableId::kEntityState, r, "entityname", s.Text(r ? "contact" : "account"));
      Set(s, TableId::kEntityState, r, "profile", s.Text(r == 2 ? "nope" : "p1"));
      Set(s, TableId::kEntityState, r, "profileentity", s.Text("pe1"));
      Set(s, TableId::kEntityState, r, "syncstate", Cell::Number(r == 1 ? 2 : 4));
      Set(s, TableId::kEntityState, r, "crmrecordcount", Cell::Number(r * 1e6));
      Set(s, TableId::kEntityState, r, "lastsynceddatatime", r ? Cell::Number(1.7e9) : Cell());
      Set(s, TableId::kEntityState, r, "lastsynceddataversion", s.Text("2026-01-01T00:00:00Z"));
    }
    Set(s, TableId::kExternalTableState, 0, "entityname", s.Text("account"));
    Set(s, TableId::kExternalTableState, 0, "synapseworkspacename", s.Text("crm"));
    Set(s, TableId::kExternalTableState, 0, "tablestate", Cell::Number(2));
    Set(s, TableId::kSchedule, 0, "profile", s.Text("p1"));
    Set(s, TableId::kSchedule, 0, "type", Cell::Number(0));
    return s;
  }();
  return snap;
}

void Run(const Expr& e, Subject subject, bool batch) {
  SnapshotIndex index(Sample());
  IndexNeeds needs;
  e.AddNeeds(needs, subject, /*columns=*/true);
  index.Prepare(needs);
  std::vector<const void*> columns;
  e.BindColumns(index, columns);
  std::string error;
  EvalContext ctx;
  ctx.index = &index;
  ctx.now = 1.8e9;
  ctx.error = &error;
  const auto& joins = index.Joins(subject);
  for (const auto& row : joins) {
    ctx.rows = row.data();
    (void)e.Eval(ctx);
    (void)e.EvalValue(ctx);
  }
  if (batch && !joins.empty()) {
    ctx.columns = columns.data();
    BatchScratch scratch;
    double out[Expr::kBatch];
    e.EvalBatch(ctx, joins.data(), static_cast<int>(joins.size()), scratch, out);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const size_t split = input.find('\0');
  const std::string_view expr_text = input.substr(0, split);
  const std::string_view template_text =
      split == std::string_view::npos ? expr_text : input.substr(split + 1);
  for (Subject subject : {Subject::kEntity, Subject::kProfile, Subject::kExternal}) {
    ExprEnv env;
    env.subject = subject;
    ExprError error;
    auto e = Expr::Compile(expr_text, env, error);
    if (e) Run(*e, subject, /*batch=*/true);

    ExprEnv tenv;
    tenv.subject = subject;
    tenv.allow_variables = true;
    tenv.label_names = {"alertname", "source", "profile", "entity", "severity"};
    tenv.value_type = e ? e->value_type() : TypeInfo{};
    auto t = Template::Compile(template_text, tenv, error);
    if (t) {
      SnapshotIndex index(Sample());
      t->Prepare(index, subject);
      const LabelSet labels{{"alertname", "A"}, {"severity", "critical"}};
      const Value value = Value::Number(42);
      EvalContext ctx;
      ctx.index = &index;
      ctx.now = 1.8e9;
      ctx.labels = &labels;
      ctx.value = &value;
      for (const auto& row : index.Joins(subject)) {
        ctx.rows = row.data();
        (void)t->Render(ctx);
      }
    }
  }
  return 0;
}
