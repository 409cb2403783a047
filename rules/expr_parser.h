// Parser of the rule expression language: tokens to an untyped syntax tree.
// Precedence, loosest first: or; and; not; comparisons (== != < <= > >=,
// in [..], not in [..], is null, is not null; not chainable); + -; * /;
// unary -. Every node keeps the byte offset that errors about it point at.
// Nesting is bounded (kMaxExprDepth) so that hostile input cannot exhaust
// the stack of the parser, the type checker or the evaluator; `or` and `and`
// chains are built balanced, so a long flat list of conditions is not deep.
// The node count is bounded too (kMaxExprNodes).
// Pure functions; the tree owns its children. Thread-safe.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "rules/expr_lexer.h"

namespace linkwatch::rules {

inline constexpr int kMaxExprDepth = 200;
inline constexpr int kMaxExprNodes = 10000;

struct Ast {
  enum class Kind {
    kNumber,    // number
    kDuration,  // number = seconds
    kString,    // text
    kBool,      // boolean
    kNull,
    kName,      // [qualifier.]text
    kVariable,  // $value (text "value") or $labels.<member> (text "labels")
    kCall,      // text(children...)
    kNeg,       // -children[0]
    kNot,       // not children[0]
    kArith,     // children[0] op children[1]; op is + - * /
    kCompare,   // children[0] op children[1]; op is == != < <= > >=
    kIn,        // children[0] [not] in [children[1..]]
    kIsNull,    // children[0] is [not] null
    kAnd,
    kOr,
  };
  Kind kind = Kind::kNull;
  int offset = 0;  // what errors about this node point at (operator or first token)
  int height = 1;
  Tok op = Tok::kEnd;
  bool negated = false;  // not in / is not null
  bool boolean = false;
  double number = 0;
  std::string text;
  std::string qualifier;  // profile / entity / external / schedule, or the $labels member
  std::vector<std::unique_ptr<Ast>> children;
};

// Parses one expression. On failure returns nullptr and fills `error`.
std::unique_ptr<Ast> ParseExpr(std::string_view text, ExprError& error);

}  // namespace linkwatch::rules
