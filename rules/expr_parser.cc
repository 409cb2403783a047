#include "rules/expr_parser.h"

#include <algorithm>
#include <utility>

namespace linkwatch::rules {
namespace {

bool IsComparison(Tok t) {
  return t == Tok::kEq || t == Tok::kNe || t == Tok::kLt || t == Tok::kLe || t == Tok::kGt ||
         t == Tok::kGe;
}

class Parser {
 public:
  Parser(std::vector<Token> tokens, ExprError& error) : toks_(std::move(tokens)), error_(error) {}

  std::unique_ptr<Ast> ParseAll() {
    auto e = ParseOr(0);
    if (!e || failed_) return nullptr;
    if (Peek().kind != Tok::kEnd) {
      if (Peek().kind == Tok::kRParen) return Fail(Peek().offset, "unbalanced \")\"");
      return Fail(Peek().offset, "unexpected " + TokenDescription(Peek()) +
                                     " (expected an operator or the end of the expression)");
    }
    return e;
  }

 private:
  const Token& Peek(int ahead = 0) const {
    size_t i = std::min(pos_ + ahead, toks_.size() - 1);
    return toks_[i];
  }
  const Token& Next() {
    const Token& t = toks_[pos_];
    if (pos_ + 1 < toks_.size()) ++pos_;
    return t;
  }
  std::unique_ptr<Ast> Fail(int offset, std::string message) {
    if (!failed_) {
      failed_ = true;
      error_ = ExprError{offset, std::move(message)};
    }
    return nullptr;
  }
  std::unique_ptr<Ast> Make(Ast::Kind kind, int offset) {
    // Bounds the work of every later pass over a hostile expression.
    if (++nodes_ == kMaxExprNodes + 1) {
      Fail(offset, "expression is too long (more than " + std::to_string(kMaxExprNodes) +
                       " terms and operators)");
    }
    auto a = std::make_unique<Ast>();
    a->kind = kind;
    a->offset = offset;
    return a;
  }
  // Attaches children, computes the height and enforces the depth bound.
  std::unique_ptr<Ast> Finish(std::unique_ptr<Ast> a) {
    int h = 0;
    for (const auto& c : a->children) h = std::max(h, c->height);
    a->height = h + 1;
    if (a->height > kMaxExprDepth) {
      return Fail(a->offset, "expression is nested too deeply (more than " +
                                 std::to_string(kMaxExprDepth) + " levels)");
    }
    return a;
  }
  bool TooDeep(int depth) {
    if (depth > kMaxExprDepth) {
      Fail(Peek().offset, "expression is nested too deeply (more than " +
                              std::to_string(kMaxExprDepth) + " levels)");
      return true;
    }
    return false;
  }

  // `or` and `and` chains. Both are associative (also with SQL nulls), so a
  // chain of n terms becomes a balanced tree of height log2(n) rather than a
  // left-leaning one of height n: the depth bound counts real nesting
  // (parentheses, not, function arguments), and a long flat list of
  // conditions is fine. The node count stays bounded (kMaxExprNodes).
  std::unique_ptr<Ast> ParseOr(int depth) {
    if (TooDeep(depth)) return nullptr;
    return ParseChain(depth, Tok::kOr, Ast::Kind::kOr, &Parser::ParseAnd);
  }

  std::unique_ptr<Ast> ParseAnd(int depth) {
    return ParseChain(depth, Tok::kAnd, Ast::Kind::kAnd, &Parser::ParseNot);
  }

  std::unique_ptr<Ast> ParseChain(int depth, Tok op, Ast::Kind kind,
                                  std::unique_ptr<Ast> (Parser::*term)(int)) {
    std::vector<std::unique_ptr<Ast>> terms;
    std::vector<int> offsets;  // offsets[k]: the operator between terms k and k+1
    auto first = (this->*term)(depth);
    if (!first) return nullptr;
    terms.push_back(std::move(first));
    while (Peek().kind == op && !failed_) {
      offsets.push_back(Next().offset);
      auto next = (this->*term)(depth);
      if (!next) return nullptr;
      terms.push_back(std::move(next));
    }
    return Balanced(terms, offsets, 0, terms.size(), kind);
  }

  // The terms [lo, hi) joined by `kind`, split in the middle.
  std::unique_ptr<Ast> Balanced(std::vector<std::unique_ptr<Ast>>& terms,
                                const std::vector<int>& offsets, size_t lo, size_t hi,
                                Ast::Kind kind) {
    if (hi - lo == 1) return std::move(terms[lo]);
    const size_t mid = lo + (hi - lo) / 2;
    auto left = Balanced(terms, offsets, lo, mid, kind);
    if (!left) return nullptr;
    auto right = Balanced(terms, offsets, mid, hi, kind);
    if (!right) return nullptr;
    auto node = Make(kind, offsets[mid - 1]);
    node->children.push_back(std::move(left));
    node->children.push_back(std::move(right));
    return Finish(std::move(node));
  }

  std::unique_ptr<Ast> ParseNot(int depth) {
    if (TooDeep(depth)) return nullptr;
    if (Peek().kind == Tok::kNot) {
      auto node = Make(Ast::Kind::kNot, Next().offset);
      auto operand = ParseNot(depth + 1);
      if (!operand) return nullptr;
      node->children.push_back(std::move(operand));
      return Finish(std::move(node));
    }
    return ParseComparison(depth);
  }

  std::unique_ptr<Ast> ParseComparison(int depth) {
    auto left = ParseAdditive(depth);
    if (!left) return nullptr;
    std::unique_ptr<Ast> node;
    const Token& t = Peek();
    if (IsComparison(t.kind)) {
      node = Make(Ast::Kind::kCompare, t.offset);
      node->op = Next().kind;
      auto right = ParseAdditive(depth);
      if (!right) return nullptr;
      node->children.push_back(std::move(left));
      node->children.push_back(std::move(right));
    } else if (t.kind == Tok::kIn || (t.kind == Tok::kNot && Peek(1).kind == Tok::kIn)) {
      node = Make(Ast::Kind::kIn, t.offset);
      if (t.kind == Tok::kNot) {
        node->negated = true;
        Next();
      }
      Next();  // in
      if (Peek().kind != Tok::kLBracket) {
        return Fail(Peek().offset, "expected \"[\" after in, found " + TokenDescription(Peek()));
      }
      Next();
      node->children.push_back(std::move(left));
      if (Peek().kind != Tok::kRBracket) {
        while (true) {
          auto item = ParseAdditive(depth + 1);
          if (!item) return nullptr;
          node->children.push_back(std::move(item));
          if (Peek().kind == Tok::kComma) {
            Next();
            continue;
          }
          if (Peek().kind == Tok::kRBracket) break;
          return Fail(Peek().offset,
                      "expected \",\" or \"]\" in the list, found " + TokenDescription(Peek()));
        }
      }
      Next();  // ]
    } else if (t.kind == Tok::kIs) {
      node = Make(Ast::Kind::kIsNull, t.offset);
      Next();
      if (Peek().kind == Tok::kNot) {
        node->negated = true;
        Next();
      }
      if (Peek().kind != Tok::kNull) {
        return Fail(Peek().offset, "expected null after \"is\", found " + TokenDescription(Peek()));
      }
      Next();
      node->children.push_back(std::move(left));
    } else {
      return left;
    }
    const Token& after = Peek();
    if (IsComparison(after.kind) || after.kind == Tok::kIn || after.kind == Tok::kIs ||
        (after.kind == Tok::kNot && Peek(1).kind == Tok::kIn)) {
      return Fail(after.offset, "comparisons cannot be chained (combine them with and)");
    }
    return Finish(std::move(node));
  }

  std::unique_ptr<Ast> ParseAdditive(int depth) {
    auto left = ParseMultiplicative(depth);
    while (left && (Peek().kind == Tok::kPlus || Peek().kind == Tok::kMinus)) {
      auto node = Make(Ast::Kind::kArith, Peek().offset);
      node->op = Next().kind;
      auto right = ParseMultiplicative(depth);
      if (!right) return nullptr;
      node->children.push_back(std::move(left));
      node->children.push_back(std::move(right));
      left = Finish(std::move(node));
    }
    return left;
  }

  std::unique_ptr<Ast> ParseMultiplicative(int depth) {
    auto left = ParseUnary(depth);
    while (left && (Peek().kind == Tok::kStar || Peek().kind == Tok::kSlash)) {
      auto node = Make(Ast::Kind::kArith, Peek().offset);
      node->op = Next().kind;
      auto right = ParseUnary(depth);
      if (!right) return nullptr;
      node->children.push_back(std::move(left));
      node->children.push_back(std::move(right));
      left = Finish(std::move(node));
    }
    return left;
  }

  std::unique_ptr<Ast> ParseUnary(int depth) {
    if (TooDeep(depth)) return nullptr;
    if (Peek().kind == Tok::kMinus) {
      auto node = Make(Ast::Kind::kNeg, Next().offset);
      auto operand = ParseUnary(depth + 1);
      if (!operand) return nullptr;
      node->children.push_back(std::move(operand));
      return Finish(std::move(node));
    }
    return ParsePrimary(depth);
  }

  std::unique_ptr<Ast> ParsePrimary(int depth) {
    if (TooDeep(depth)) return nullptr;
    const Token& t = Peek();
    switch (t.kind) {
      case Tok::kNumber:
      case Tok::kDuration: {
        auto a = Make(t.kind == Tok::kNumber ? Ast::Kind::kNumber : Ast::Kind::kDuration, t.offset);
        a->number = Next().number;
        return a;
      }
      case Tok::kString: {
        auto a = Make(Ast::Kind::kString, t.offset);
        a->text = Next().text;
        return a;
      }
      case Tok::kTrue:
      case Tok::kFalse: {
        auto a = Make(Ast::Kind::kBool, t.offset);
        a->boolean = Next().kind == Tok::kTrue;
        return a;
      }
      case Tok::kNull:
        return Make(Ast::Kind::kNull, Next().offset);
      case Tok::kLParen: {
        const int open = Next().offset;
        auto inner = ParseOr(depth + 1);
        if (!inner) return nullptr;
        if (Peek().kind != Tok::kRParen) {
          if (Peek().kind == Tok::kEnd) return Fail(open, "unclosed \"(\"");
          return Fail(Peek().offset, "expected \")\", found " + TokenDescription(Peek()));
        }
        Next();
        return inner;
      }
      case Tok::kIdent: {
        const Token& name = Next();
        if (Peek().kind == Tok::kLParen) {
          auto call = Make(Ast::Kind::kCall, name.offset);
          call->text = name.text;
          Next();
          if (Peek().kind != Tok::kRParen) {
            while (true) {
              auto arg = ParseOr(depth + 1);
              if (!arg) return nullptr;
              call->children.push_back(std::move(arg));
              if (Peek().kind == Tok::kComma) {
                Next();
                continue;
              }
              if (Peek().kind == Tok::kRParen) break;
              if (Peek().kind == Tok::kEnd) {
                return Fail(name.offset, "unclosed \"(\" of " + name.text + "()");
              }
              return Fail(Peek().offset, "expected \",\" or \")\" in the arguments of " +
                                             name.text + "(), found " + TokenDescription(Peek()));
            }
          }
          Next();  // )
          return Finish(std::move(call));
        }
        auto a = Make(Ast::Kind::kName, name.offset);
        if (Peek().kind == Tok::kDot) {
          Next();
          if (Peek().kind != Tok::kIdent) {
            return Fail(Peek().offset, "expected a column name after \"" + name.text + ".\"");
          }
          a->qualifier = name.text;
          a->text = Next().text;
        } else {
          a->text = name.text;
        }
        return a;
      }
      case Tok::kVariable: {
        const Token& var = Next();
        auto a = Make(Ast::Kind::kVariable, var.offset);
        a->text = var.text;
        if (var.text == "labels") {
          if (Peek().kind != Tok::kDot || Peek(1).kind != Tok::kIdent) {
            return Fail(Peek().offset, "expected a label name: $labels.<name>");
          }
          Next();
          a->qualifier = Next().text;
        }
        return a;
      }
      case Tok::kLBracket:
        return Fail(t.offset, "a list [..] is only allowed after in");
      case Tok::kEnd:
        return Fail(t.offset, "unexpected end of expression (expected a value)");
      default:
        return Fail(t.offset, "unexpected " + TokenDescription(t) + " (expected a value)");
    }
  }

  std::vector<Token> toks_;
  size_t pos_ = 0;
  ExprError& error_;
  bool failed_ = false;
  int nodes_ = 0;
};

}  // namespace

std::unique_ptr<Ast> ParseExpr(std::string_view text, ExprError& error) {
  std::vector<Token> tokens;
  if (!Lex(text, tokens, error)) return nullptr;
  Parser parser(std::move(tokens), error);
  return parser.ParseAll();
}

}  // namespace linkwatch::rules
