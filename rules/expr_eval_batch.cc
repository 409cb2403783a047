// Expr, batch evaluator (expr_program.h): the hot path, node by node over up
// to kBatch rows into dense buffers; same results as the scalar evaluator.
#include <algorithm>
#include <cmath>
#include <limits>

#include "rules/expr_program.h"

namespace linkwatch::rules {

using expr_detail::Node;
using expr_detail::Op;

void Expr::EvalBatch(const EvalContext& ctx, const JoinRow* rows, int n, BatchScratch& scratch,
                     double* out) const {
  constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
  const size_t need = nodes_.size() * kBatch;
  if (scratch.numbers.size() < need) scratch.numbers.resize(need);
  if (scratch.texts.size() < need) scratch.texts.resize(need);
  auto num = [&](int32_t k) { return scratch.numbers.data() + static_cast<size_t>(k) * kBatch; };
  auto txt = [&](int32_t k) { return scratch.texts.data() + static_cast<size_t>(k) * kBatch; };
  auto is_text = [&](int32_t k) { return nodes_[k].type.type == Type::kString; };
  auto isnan = [](double v) { return v != v; };

  for (const int32_t k : order_) {
    const Node& node = nodes_[k];
    double* o = num(k);
    std::string_view* t = txt(k);
    if (node.type.type == Type::kNull) {  // always null
      std::fill(o, o + n, kNaN);
      std::fill(t, t + n, std::string_view());
      continue;
    }
    switch (node.op) {
      case Op::kConst:
        if (node.const_tag == Value::Tag::kText) {
          std::fill(t, t + n, std::string_view(pool_).substr(node.text_offset, node.text_length));
        } else {
          std::fill(o, o + n, node.const_tag == Value::Tag::kNumber ? node.number : kNaN);
        }
        break;
      case Op::kColumnNum: {
        const double* col =
            ctx.columns ? static_cast<const double*>(ctx.columns[node.column_ref]) : nullptr;
        if (!col) goto scalar;
        for (int i = 0; i < n; ++i) {
          const int32_t row = rows[i][node.slot];
          o[i] = row < 0 ? kNaN : col[row];
        }
        break;
      }
      case Op::kColumnText: {
        const auto* col = ctx.columns
                              ? static_cast<const std::string_view*>(ctx.columns[node.column_ref])
                              : nullptr;
        if (!col) goto scalar;
        for (int i = 0; i < n; ++i) {
          const int32_t row = rows[i][node.slot];
          t[i] = row < 0 ? std::string_view() : col[row];
        }
        break;
      }
      case Op::kNow:
        std::fill(o, o + n, ctx.now);
        break;
      case Op::kAge: {
        const double* x = num(node.a);
        for (int i = 0; i < n; ++i) o[i] = ctx.now - x[i];
        break;
      }
      case Op::kNeg: {
        const double* x = num(node.a);
        for (int i = 0; i < n; ++i) o[i] = -x[i];
        break;
      }
      case Op::kAbs: {
        const double* x = num(node.a);
        for (int i = 0; i < n; ++i) o[i] = std::fabs(x[i]);
        break;
      }
      case Op::kAdd:
      case Op::kSub:
      case Op::kMul:
      case Op::kDiv: {
        const double* l = num(node.a);
        const double* r = num(node.b);
        // NaN (null) propagates through arithmetic by itself.
        switch (node.op) {
          case Op::kAdd:
            for (int i = 0; i < n; ++i) o[i] = l[i] + r[i];
            break;
          case Op::kSub:
            for (int i = 0; i < n; ++i) o[i] = l[i] - r[i];
            break;
          case Op::kMul:
            for (int i = 0; i < n; ++i) o[i] = l[i] * r[i];
            break;
          default:
            for (int i = 0; i < n; ++i) o[i] = r[i] == 0 ? kNaN : l[i] / r[i];
        }
        break;
      }
      case Op::kMin:
      case Op::kMax: {
        const double* first = num(args_[node.a]);
        std::copy(first, first + n, o);
        for (int32_t j = 1; j < node.b; ++j) {
          const double* x = num(args_[node.a + j]);
          for (int i = 0; i < n; ++i) {
            if (isnan(o[i]) || isnan(x[i])) {
              o[i] = kNaN;
            } else if (node.op == Op::kMax ? x[i] > o[i] : x[i] < o[i]) {
              o[i] = x[i];
            }
          }
        }
        break;
      }
      case Op::kCoalesce:
        if (is_text(k)) {
          std::fill(t, t + n, std::string_view());
          for (int32_t j = node.b - 1; j >= 0; --j) {
            const int32_t c = args_[node.a + j];
            if (!is_text(c)) continue;  // a null argument
            const std::string_view* x = txt(c);
            for (int i = 0; i < n; ++i) {
              if (x[i].data() != nullptr) t[i] = x[i];
            }
          }
        } else {
          std::fill(o, o + n, kNaN);
          for (int32_t j = node.b - 1; j >= 0; --j) {
            const double* x = num(args_[node.a + j]);
            for (int i = 0; i < n; ++i) {
              if (!isnan(x[i])) o[i] = x[i];
            }
          }
        }
        break;
      case Op::kAnd: {
        const double* l = num(node.a);
        const double* r = num(node.b);
        for (int i = 0; i < n; ++i) {
          o[i] = (l[i] == 0 || r[i] == 0) ? 0.0 : (isnan(l[i]) || isnan(r[i])) ? kNaN : 1.0;
        }
        break;
      }
      case Op::kOr: {
        const double* l = num(node.a);
        const double* r = num(node.b);
        for (int i = 0; i < n; ++i) {
          const bool lt = l[i] != 0 && !isnan(l[i]);
          const bool rt = r[i] != 0 && !isnan(r[i]);
          o[i] = (lt || rt) ? 1.0 : (isnan(l[i]) || isnan(r[i])) ? kNaN : 0.0;
        }
        break;
      }
      case Op::kNot: {
        const double* x = num(node.a);
        for (int i = 0; i < n; ++i) o[i] = isnan(x[i]) ? kNaN : (x[i] == 0 ? 1.0 : 0.0);
        break;
      }
      case Op::kIsNull:
      case Op::kIsNotNull: {
        const bool want_null = node.op == Op::kIsNull;
        if (is_text(node.a)) {
          const std::string_view* x = txt(node.a);
          for (int i = 0; i < n; ++i) o[i] = (x[i].data() == nullptr) == want_null ? 1.0 : 0.0;
        } else {
          const double* x = num(node.a);
          for (int i = 0; i < n; ++i) o[i] = isnan(x[i]) == want_null ? 1.0 : 0.0;
        }
        break;
      }
      case Op::kEqNum:
      case Op::kNeNum:
      case Op::kLtNum:
      case Op::kLeNum:
      case Op::kGtNum:
      case Op::kGeNum: {
        const double* l = num(node.a);
        const double* r = num(node.b);
        for (int i = 0; i < n; ++i) {
          o[i] = (isnan(l[i]) || isnan(r[i])) ? kNaN : (Compare(node.op, l[i], r[i]) ? 1.0 : 0.0);
        }
        break;
      }
      case Op::kEqText:
      case Op::kNeText:
      case Op::kLtText:
      case Op::kLeText:
      case Op::kGtText:
      case Op::kGeText: {
        if (!is_text(node.a) || !is_text(node.b)) {  // compared with null
          std::fill(o, o + n, kNaN);
          break;
        }
        const std::string_view* l = txt(node.a);
        const std::string_view* r = txt(node.b);
        for (int i = 0; i < n; ++i) {
          if (l[i].data() == nullptr || r[i].data() == nullptr) {
            o[i] = kNaN;
            continue;
          }
          o[i] = Compare(node.op, l[i], r[i]) ? 1.0 : 0.0;
        }
        break;
      }
      case Op::kInNum:
      case Op::kNotInNum:
      case Op::kInText:
      case Op::kNotInText: {
        const bool text = node.op == Op::kInText || node.op == Op::kNotInText;
        const bool negated = node.op == Op::kNotInNum || node.op == Op::kNotInText;
        const int32_t left = args_[node.a];
        const bool left_text = is_text(left);
        for (int i = 0; i < n; ++i) {
          const bool x_null =
              text ? (!left_text || txt(left)[i].data() == nullptr) : isnan(num(left)[i]);
          if (x_null) {
            o[i] = kNaN;
            continue;
          }
          bool found = false, saw_null = false;
          for (int32_t j = 1; j < node.b && !found; ++j) {
            const int32_t c = args_[node.a + j];
            if (text) {
              if (!is_text(c) || txt(c)[i].data() == nullptr) {
                saw_null = true;
              } else {
                found = txt(c)[i] == txt(left)[i];
              }
            } else if (isnan(num(c)[i])) {
              saw_null = true;
            } else {
              found = num(c)[i] == num(left)[i];
            }
          }
          o[i] = found ? (negated ? 0.0 : 1.0) : saw_null ? kNaN : (negated ? 1.0 : 0.0);
        }
        break;
      }
      default:
      scalar : {
        // Rare in conditions (lookups used bare, datetime(text)): row by row.
        EvalContext c = ctx;
        for (int i = 0; i < n; ++i) {
          c.rows = rows[i].data();
          const Value v = EvalNode(k, c);
          if (is_text(k)) {
            t[i] = v.tag == Value::Tag::kText ? v.text : std::string_view();
          } else {
            o[i] = v.tag == Value::Tag::kNumber ? v.number : kNaN;
          }
        }
        break;
      }
    }
  }
  const double* result = num(root_);
  std::copy(result, result + n, out);
}

}  // namespace linkwatch::rules
