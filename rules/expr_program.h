// Expr: a type-checked, compiled rule expression (contract.md section 4).
//
// Compile() parses the text, resolves every name to (join slot, table,
// column index) of agent/state/schema.h, checks types (choices compare only
// with their labels or codes, durations only with durations, ...), resolves
// choice labels to codes and folds constant datetime("...") literals. The
// result is a flat array of nodes evaluated by a switch, with SQL null
// semantics (three-valued and/or, null comparisons, division by zero is
// null). Evaluating never allocates: values are PODs and text is a view into
// the Snapshot (see expr_value.h).
//
// An Expr is an immutable value (copyable); Eval is const and thread-safe as
// long as the SnapshotIndex it reads is not being prepared concurrently.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "rules/alert.h"
#include "rules/expr_lexer.h"
#include "rules/expr_value.h"
#include "rules/snapshot_index.h"

namespace linkwatch::rules {

// What an expression may refer to.
struct ExprEnv {
  Subject subject = Subject::kEntity;
  // Templates only: $labels.<name> (one of label_names) and $value (value_type).
  bool allow_variables = false;
  std::vector<std::string> label_names;
  TypeInfo value_type;
  // Alert conditions must be boolean.
  bool require_bool = false;
};

// Everything one evaluation reads.
struct EvalContext {
  const SnapshotIndex* index = nullptr;
  const int32_t* rows = nullptr;     // JoinRow::data() of the subject row
  double now = 0;                    // epoch seconds: now() and age()
  const LabelSet* labels = nullptr;  // $labels (templates)
  const Value* value = nullptr;      // $value (templates)
  // Receives the first runtime error (an unparseable datetime(text)); the
  // expression then yields null there. May be null.
  std::string* error = nullptr;
  // Optional: the expression's dense columns, from Expr::BindColumns over
  // the same index, so a column read is one load.
  const void* const* columns = nullptr;
};

namespace expr_detail {

enum class Op : uint8_t {
  kConst,       // number / null constant (or text in the pool)
  kColumnNum,   // a number-like column (number, boolean, datetime, choice)
  kColumnText,  // a string column
  kLookupName,  // a lookup column used bare: the referenced row's name
  kLabel,       // $labels.<pool text>
  kValue,       // $value
  kNow,
  kAge,
  kNeg,
  kAbs,
  kAdd,
  kSub,
  kMul,
  kDiv,
  kMin,       // variadic
  kMax,       // variadic
  kCoalesce,  // variadic
  kParseDateTime,
  kAnd,
  kOr,
  kNot,
  kIsNull,
  kIsNotNull,
  kEqNum,
  kNeNum,
  kLtNum,
  kLeNum,
  kGtNum,
  kGeNum,
  kEqText,
  kNeText,
  kLtText,
  kLeText,
  kGtText,
  kGeText,
  kInNum,  // variadic: a = left, items in args
  kInText,
  kNotInNum,
  kNotInText,
};

// Comparison `op` (kEqNum..kGeNum or kEqText..kGeText) of two present
// values: the one home of what each comparison means, shared by the scalar
// and the batch evaluator (each handles null first).
template <typename T>
inline bool Compare(Op op, const T& l, const T& r) {
  switch (op) {
    case Op::kEqNum:
    case Op::kEqText:
      return l == r;
    case Op::kNeNum:
    case Op::kNeText:
      return l != r;
    case Op::kLtNum:
    case Op::kLtText:
      return l < r;
    case Op::kLeNum:
    case Op::kLeText:
      return l <= r;
    case Op::kGtNum:
    case Op::kGtText:
      return l > r;
    default:
      return l >= r;
  }
}

struct Node {
  Op op = Op::kConst;
  uint8_t slot = 0;                                     // columns: join slot
  state::TableId table = state::TableId::kEntityState;  // columns: table of the slot
  state::TableId target = state::TableId::kProfile;     // lookups: referenced table
  int32_t column = 0;                                   // columns: index in the table
  int32_t column_ref = -1;                              // columns: index in Expr::columns_
  int32_t a = -1, b = -1;                               // children; variadic: args_[a .. a+b)
  Value::Tag const_tag = Value::Tag::kNull;
  double number = 0;
  uint32_t text_offset = 0, text_length = 0;  // pool text (constants, label names)
  int32_t source_offset = 0;
  TypeInfo type;
};

}  // namespace expr_detail

// Reusable buffers of Expr::EvalBatch (one per thread).
struct BatchScratch {
  std::vector<double> numbers;
  std::vector<std::string_view> texts;
};

class Expr {
 public:
  static constexpr int kBatch = 256;

  // Returns nullopt and fills `error` (offset into `text`) on a syntax, name
  // or type error.
  static std::optional<Expr> Compile(std::string_view text, const ExprEnv& env, ExprError& error);

  Value Eval(const EvalContext& ctx) const { return EvalNode(root_, ctx); }
  // The hot path: evaluates the expression for `n` (<= kBatch) subject rows
  // at once, node by node, into out[i]: 1 true, 0 false, NaN null. Same
  // results as Eval (ctx.rows is ignored; ctx.columns should be bound).
  void EvalBatch(const EvalContext& ctx, const JoinRow* rows, int n, BatchScratch& scratch,
                 double* out) const;
  const TypeInfo& type() const { return nodes_[root_].type; }

  // $value of an alert: the measured quantity rather than "true". For the
  // condition's last top-level `and` operand, if it is a comparison (or in /
  // is null), the value of its left side; otherwise the condition itself.
  // So `syncstate == "InProgress" and age(lastsynceddatatime) > 15m` has the
  // age as $value.
  Value EvalValue(const EvalContext& ctx) const { return EvalNode(value_node_, ctx); }
  const TypeInfo& value_type() const { return nodes_[value_node_].type; }

  // Join slots and lookup columns the expression reads; Prepare() makes the
  // index ready for them.
  uint8_t slot_mask() const { return slot_mask_; }
  const std::vector<std::pair<state::TableId, int>>& lookups() const { return lookups_; }
  // Joins and lookups (enough to evaluate: columns not extracted are read
  // from the cells).
  void Prepare(SnapshotIndex& index, Subject subject) const;
  // Adds what this expression reads to `needs`; with `columns`, also the
  // columns to extract for fast scans over every row.
  void AddNeeds(IndexNeeds& needs, Subject subject, bool columns) const;
  // The dense column of each column the expression reads (nullptr where the
  // index has none), for EvalContext::columns.
  void BindColumns(const SnapshotIndex& index, std::vector<const void*>& out) const;

  const std::string& text() const { return text_; }
  // Whether the result can change with time alone (now(), age()).
  bool uses_time() const;

 private:
  friend class Compiler;
  using Op = expr_detail::Op;
  using Node = expr_detail::Node;
  Value EvalNode(int32_t n, const EvalContext& ctx) const;
  // Leaves (constants, bound columns) inline; anything else through EvalNode.
  inline Value Child(int32_t n, const EvalContext& ctx) const;

  std::string text_;
  std::vector<Node> nodes_;
  std::vector<int32_t> args_;   // children of variadic nodes
  std::string pool_;            // string constants
  std::vector<int32_t> order_;  // nodes reachable from the root, children first
  int32_t root_ = 0;
  int32_t value_node_ = 0;
  uint8_t slot_mask_ = 0;
  std::vector<std::pair<state::TableId, int>> lookups_;
  std::vector<std::pair<state::TableId, int>> columns_;
};

}  // namespace linkwatch::rules
