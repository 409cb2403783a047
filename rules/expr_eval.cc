// Expr, scalar evaluator (expr_program.h): one row at a time, with SQL null
// semantics (Eval, EvalValue; templates and $value use it).
#include <cmath>

#include "agent/core/time_format.h"
#include "rules/expr_program.h"

namespace linkwatch::rules {

using expr_detail::Node;
using expr_detail::Op;

inline Value Expr::Child(int32_t n, const EvalContext& ctx) const {
  const Node& node = nodes_[n];
  if (node.op == Op::kColumnNum && ctx.columns) {
    if (const auto* col = static_cast<const double*>(ctx.columns[node.column_ref])) {
      const int32_t row = ctx.rows[node.slot];
      if (row < 0) return Value::Null();
      const double v = col[row];
      return v != v ? Value::Null() : Value::Number(v);  // NaN marks null
    }
  } else if (node.op == Op::kConst && node.const_tag == Value::Tag::kNumber) {
    return Value::Number(node.number);
  }
  return EvalNode(n, ctx);
}

Value Expr::EvalNode(int32_t n, const EvalContext& ctx) const {
  const Node& node = nodes_[n];
  using Tag = Value::Tag;
  switch (node.op) {
    case Op::kConst:
      if (node.const_tag == Tag::kNumber) return Value::Number(node.number);
      if (node.const_tag == Tag::kText) {
        return Value::Text(std::string_view(pool_).substr(node.text_offset, node.text_length));
      }
      return Value::Null();
    case Op::kColumnNum: {
      if (!ctx.index) return Value::Null();
      const double* col = ctx.columns ? static_cast<const double*>(ctx.columns[node.column_ref])
                                      : ctx.index->NumberColumn(node.table, node.column);
      if (col) {
        const int32_t row = ctx.rows[node.slot];
        if (row < 0) return Value::Null();
        const double v = col[row];
        return v != v ? Value::Null() : Value::Number(v);  // NaN marks null
      }
      const state::Cell* c = ctx.index->CellAt(node.table, ctx.rows[node.slot], node.column);
      if (!c || !c->is_number()) return Value::Null();
      return Value::Number(c->as_double());
    }
    case Op::kColumnText: {
      if (!ctx.index) return Value::Null();
      const std::string_view* col =
          ctx.columns ? static_cast<const std::string_view*>(ctx.columns[node.column_ref])
                      : ctx.index->TextColumn(node.table, node.column);
      if (col) {
        const int32_t row = ctx.rows[node.slot];
        if (row < 0 || col[row].data() == nullptr) return Value::Null();
        return Value::Text(col[row]);
      }
      const state::Cell* c = ctx.index->CellAt(node.table, ctx.rows[node.slot], node.column);
      if (!c || c->kind != state::Cell::Kind::kText) return Value::Null();
      return Value::Text(c->text());
    }
    case Op::kLookupName: {
      if (!ctx.index) return Value::Null();
      int32_t target = ctx.index->LookupTarget(node.table, node.column, ctx.rows[node.slot]);
      const state::Cell* c = ctx.index->CellAt(node.target, target, 1 /* name */);
      if (!c || c->kind != state::Cell::Kind::kText) return Value::Null();
      return Value::Text(c->text());
    }
    case Op::kLabel: {
      if (!ctx.labels) return Value::Null();
      auto it = ctx.labels->find(
          std::string(std::string_view(pool_).substr(node.text_offset, node.text_length)));
      if (it == ctx.labels->end()) return Value::Null();
      return Value::Text(it->second);
    }
    case Op::kValue:
      return ctx.value ? *ctx.value : Value::Null();
    case Op::kNow:
      return Value::Number(ctx.now);
    case Op::kAge: {
      Value x = Child(node.a, ctx);
      if (x.tag != Tag::kNumber) return Value::Null();
      return Value::Number(ctx.now - x.number);
    }
    case Op::kNeg: {
      Value x = Child(node.a, ctx);
      if (x.tag != Tag::kNumber) return Value::Null();
      return Value::Number(-x.number);
    }
    case Op::kAbs: {
      Value x = Child(node.a, ctx);
      if (x.tag != Tag::kNumber) return Value::Null();
      return Value::Number(std::fabs(x.number));
    }
    case Op::kAdd:
    case Op::kSub:
    case Op::kMul:
    case Op::kDiv: {
      Value l = Child(node.a, ctx);
      if (l.tag != Tag::kNumber) return Value::Null();
      Value r = Child(node.b, ctx);
      if (r.tag != Tag::kNumber) return Value::Null();
      double v;
      switch (node.op) {
        case Op::kAdd:
          v = l.number + r.number;
          break;
        case Op::kSub:
          v = l.number - r.number;
          break;
        case Op::kMul:
          v = l.number * r.number;
          break;
        default:
          if (r.number == 0) return Value::Null();
          v = l.number / r.number;
      }
      return v != v ? Value::Null() : Value::Number(v);  // inf - inf is null too
    }
    case Op::kMin:
    case Op::kMax: {
      double best = 0;
      for (int32_t i = 0; i < node.b; ++i) {
        Value x = Child(args_[node.a + i], ctx);
        if (x.tag != Tag::kNumber) return Value::Null();
        if (i == 0 || (node.op == Op::kMax ? x.number > best : x.number < best)) best = x.number;
      }
      return Value::Number(best);
    }
    case Op::kCoalesce:
      for (int32_t i = 0; i < node.b; ++i) {
        Value x = Child(args_[node.a + i], ctx);
        if (!x.is_null()) return x;
      }
      return Value::Null();
    case Op::kParseDateTime: {
      Value x = Child(node.a, ctx);
      if (x.tag != Tag::kText) return Value::Null();
      auto t = ParseDateTime(x.text);
      if (!t) {
        if (ctx.error && ctx.error->empty()) *ctx.error = t.message();
        return Value::Null();
      }
      return Value::Number(*t);
    }
    case Op::kAnd: {
      Value l = Child(node.a, ctx);
      if (l.tag == Tag::kNumber && l.number == 0) return Value::Bool(false);
      Value r = Child(node.b, ctx);
      if (r.tag == Tag::kNumber && r.number == 0) return Value::Bool(false);
      if (l.tag != Tag::kNumber || r.tag != Tag::kNumber) return Value::Null();
      return Value::Bool(true);
    }
    case Op::kOr: {
      Value l = Child(node.a, ctx);
      if (l.tag == Tag::kNumber && l.number != 0) return Value::Bool(true);
      Value r = Child(node.b, ctx);
      if (r.tag == Tag::kNumber && r.number != 0) return Value::Bool(true);
      if (l.tag != Tag::kNumber || r.tag != Tag::kNumber) return Value::Null();
      return Value::Bool(false);
    }
    case Op::kNot: {
      Value x = Child(node.a, ctx);
      if (x.tag != Tag::kNumber) return Value::Null();
      return Value::Bool(x.number == 0);
    }
    case Op::kIsNull:
      return Value::Bool(EvalNode(node.a, ctx).is_null());
    case Op::kIsNotNull:
      return Value::Bool(!EvalNode(node.a, ctx).is_null());
    case Op::kEqNum:
    case Op::kNeNum:
    case Op::kLtNum:
    case Op::kLeNum:
    case Op::kGtNum:
    case Op::kGeNum: {
      Value l = Child(node.a, ctx);
      if (l.tag != Tag::kNumber) return Value::Null();
      Value r = Child(node.b, ctx);
      if (r.tag != Tag::kNumber) return Value::Null();
      return Value::Bool(Compare(node.op, l.number, r.number));
    }
    case Op::kEqText:
    case Op::kNeText:
    case Op::kLtText:
    case Op::kLeText:
    case Op::kGtText:
    case Op::kGeText: {
      Value l = Child(node.a, ctx);
      if (l.tag != Tag::kText) return Value::Null();
      Value r = Child(node.b, ctx);
      if (r.tag != Tag::kText) return Value::Null();
      return Value::Bool(Compare(node.op, l.text, r.text));
    }
    case Op::kInNum:
    case Op::kNotInNum:
    case Op::kInText:
    case Op::kNotInText: {
      const bool text = node.op == Op::kInText || node.op == Op::kNotInText;
      const bool negated = node.op == Op::kNotInNum || node.op == Op::kNotInText;
      Value x = Child(args_[node.a], ctx);
      if (x.is_null()) return Value::Null();
      bool saw_null = false;
      for (int32_t i = 1; i < node.b; ++i) {
        Value item = Child(args_[node.a + i], ctx);
        if (item.is_null()) {
          saw_null = true;
          continue;
        }
        const bool equal = text ? (item.tag == Tag::kText && item.text == x.text)
                                : (item.tag == Tag::kNumber && item.number == x.number);
        if (equal) return Value::Bool(!negated);
      }
      if (saw_null) return Value::Null();
      return Value::Bool(negated);
    }
  }
  return Value::Null();
}

}  // namespace linkwatch::rules
