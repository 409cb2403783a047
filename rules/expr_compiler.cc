// Expr, compiler half (expr_program.h): the AST of expr_parser.h is resolved
// against the schema, type-checked and flattened into the node array, and the
// program's needs (joins, lookups, columns) are derived from it. The
// evaluators: expr_eval.cc (one row), expr_eval_batch.cc (a batch of rows).
#include <algorithm>
#include <cmath>
#include <limits>

#include "agent/core/problem.h"
#include "agent/core/time_format.h"
#include "rules/expr_parser.h"
#include "rules/expr_program.h"

namespace linkwatch::rules {

using expr_detail::Node;
using expr_detail::Op;
using state::ColumnType;
using state::TableId;

namespace {

TypeInfo ColumnTypeInfo(const state::ColumnDef& c) {
  switch (c.type) {
    case ColumnType::kInt:
      return TypeInfo::Of(Type::kNumber);
    case ColumnType::kBool:
      return TypeInfo::Of(Type::kBool);
    case ColumnType::kDateTime:
      return TypeInfo::Of(Type::kDateTime);
    case ColumnType::kChoice:
      return TypeInfo{Type::kChoice, c.choices};
    default:  // guid, string, lookup (as the referenced row's name)
      return TypeInfo::Of(Type::kString);
  }
}

std::string KnownLabels(const state::ChoiceSet& set) {
  std::string out;
  for (const auto& o : set.options) {
    if (!out.empty()) out += ", ";
    out += std::string(o.label) + " (" + std::to_string(o.code) + ")";
  }
  return out;
}

const char* OpText(Tok t) {
  switch (t) {
    case Tok::kPlus:
      return "+";
    case Tok::kMinus:
      return "-";
    case Tok::kStar:
      return "*";
    case Tok::kSlash:
      return "/";
    case Tok::kEq:
      return "==";
    case Tok::kNe:
      return "!=";
    case Tok::kLt:
      return "<";
    case Tok::kLe:
      return "<=";
    case Tok::kGt:
      return ">";
    case Tok::kGe:
      return ">=";
    default:
      return "?";
  }
}

// A hint for the commonest mix-ups.
std::string MixHint(Type a, Type b) {
  auto either = [&](Type x, Type y) { return (a == x && b == y) || (a == y && b == x); };
  if (either(Type::kDuration, Type::kNumber)) {
    return " (durations mix only with durations: write 900s, not 900)";
  }
  if (either(Type::kDateTime, Type::kString)) {
    return " (write a datetime as datetime(\"2026-01-01T00:00:00Z\"))";
  }
  if (either(Type::kDateTime, Type::kNumber)) {
    return " (compare datetimes with datetimes, or use age(x) > 15m)";
  }
  if (either(Type::kBool, Type::kNumber)) return " (booleans are true and false, not 1 and 0)";
  return "";
}

}  // namespace

class Compiler {
 public:
  Compiler(Expr& out, const ExprEnv& env, ExprError& error) : out_(out), env_(env), error_(error) {}

  bool failed() const { return failed_; }

  int32_t Compile(const Ast& a) {
    switch (a.kind) {
      case Ast::Kind::kNumber:
        return Const(a.number, TypeInfo::Of(Type::kNumber), a.offset);
      case Ast::Kind::kDuration:
        return Const(a.number, TypeInfo::Of(Type::kDuration), a.offset);
      case Ast::Kind::kBool:
        return Const(a.boolean ? 1 : 0, TypeInfo::Of(Type::kBool), a.offset);
      case Ast::Kind::kNull:
        return ConstNull(a.offset);
      case Ast::Kind::kString:
        return ConstText(a.text, a.offset);
      case Ast::Kind::kName:
        return CompileName(a);
      case Ast::Kind::kVariable:
        return CompileVariable(a);
      case Ast::Kind::kCall:
        return CompileCall(a);
      case Ast::Kind::kNeg: {
        int32_t x = Compile(*a.children[0]);
        if (x < 0) return -1;
        const TypeInfo t = TypeOf(x);
        if (t.type != Type::kNumber && t.type != Type::kDuration && t.type != Type::kNull) {
          return Fail(a.offset, "unary - applies to numbers and durations, not " + TypeName(t));
        }
        const Node& xn = out_.nodes_[x];
        if (xn.op == Op::kConst && xn.const_tag == Value::Tag::kNumber) {
          return Const(-xn.number, t, a.offset);
        }
        return Unary(Op::kNeg, x, t, a.offset);
      }
      case Ast::Kind::kNot: {
        int32_t x = Compile(*a.children[0]);
        if (x < 0) return -1;
        if (!IsBoolish(x)) {
          return Fail(a.children[0]->offset,
                      "not needs a boolean operand, got " + TypeName(TypeOf(x)));
        }
        return Unary(Op::kNot, x, TypeInfo::Of(Type::kBool), a.offset);
      }
      case Ast::Kind::kAnd:
      case Ast::Kind::kOr: {
        int32_t l = Compile(*a.children[0]);
        if (l < 0) return -1;
        int32_t r = Compile(*a.children[1]);
        if (r < 0) return -1;
        const char* word = a.kind == Ast::Kind::kAnd ? "and" : "or";
        if (!IsBoolish(l)) {
          return Fail(a.children[0]->offset,
                      std::string(word) + " needs boolean operands, got " + TypeName(TypeOf(l)));
        }
        if (!IsBoolish(r)) {
          return Fail(a.children[1]->offset,
                      std::string(word) + " needs boolean operands, got " + TypeName(TypeOf(r)));
        }
        return Binary(a.kind == Ast::Kind::kAnd ? Op::kAnd : Op::kOr, l, r,
                      TypeInfo::Of(Type::kBool), a.offset);
      }
      case Ast::Kind::kArith:
        return CompileArith(a);
      case Ast::Kind::kCompare:
        return CompileCompare(a);
      case Ast::Kind::kIn:
        return CompileIn(a);
      case Ast::Kind::kIsNull: {
        int32_t x = Compile(*a.children[0]);
        if (x < 0) return -1;
        return Unary(a.negated ? Op::kIsNotNull : Op::kIsNull, x, TypeInfo::Of(Type::kBool),
                     a.offset);
      }
    }
    return Fail(a.offset, "unsupported expression");
  }

 private:
  TypeInfo TypeOf(int32_t n) const { return out_.nodes_[n].type; }
  bool IsBoolish(int32_t n) const {
    auto t = TypeOf(n).type;
    return t == Type::kBool || t == Type::kNull;
  }

  int32_t Fail(int offset, std::string message) {
    if (!failed_) {
      failed_ = true;
      error_ = ExprError{offset, std::move(message)};
    }
    return -1;
  }
  int32_t Add(Node n) {
    out_.nodes_.push_back(n);
    return static_cast<int32_t>(out_.nodes_.size() - 1);
  }
  int32_t Const(double v, TypeInfo t, int offset) {
    Node n;
    n.op = Op::kConst;
    n.const_tag = Value::Tag::kNumber;
    n.number = v;
    n.type = t;
    n.source_offset = offset;
    return Add(n);
  }
  int32_t ConstNull(int offset) {
    Node n;
    n.op = Op::kConst;
    n.const_tag = Value::Tag::kNull;
    n.type = TypeInfo::Of(Type::kNull);
    n.source_offset = offset;
    return Add(n);
  }
  void PoolText(Node& n, std::string_view s) {
    n.text_offset = static_cast<uint32_t>(out_.pool_.size());
    n.text_length = static_cast<uint32_t>(s.size());
    out_.pool_.append(s);
  }
  int32_t ConstText(std::string_view s, int offset) {
    Node n;
    n.op = Op::kConst;
    n.const_tag = Value::Tag::kText;
    PoolText(n, s);
    n.type = TypeInfo::Of(Type::kString);
    n.source_offset = offset;
    return Add(n);
  }
  int32_t Unary(Op op, int32_t x, TypeInfo t, int offset) {
    Node n;
    n.op = op;
    n.a = x;
    n.type = t;
    n.source_offset = offset;
    return Add(n);
  }
  int32_t Binary(Op op, int32_t l, int32_t r, TypeInfo t, int offset) {
    Node n;
    n.op = op;
    n.a = l;
    n.b = r;
    n.type = t;
    n.source_offset = offset;
    return Add(n);
  }
  int32_t Variadic(Op op, const std::vector<int32_t>& args, TypeInfo t, int offset) {
    Node n;
    n.op = op;
    n.a = static_cast<int32_t>(out_.args_.size());
    n.b = static_cast<int32_t>(args.size());
    out_.args_.insert(out_.args_.end(), args.begin(), args.end());
    n.type = t;
    n.source_offset = offset;
    return Add(n);
  }

  int32_t CompileName(const Ast& a) {
    const Subject subject = env_.subject;
    int slot = kSlotSelf;
    if (!a.qualifier.empty()) {
      const std::string& q = a.qualifier;
      if (q == "profile") {
        slot = subject == Subject::kProfile ? kSlotSelf : kSlotProfile;
      } else if (q == "entity") {
        if (subject == Subject::kProfile) {
          return Fail(a.offset, "entity.<column> is not available in on: profile rules");
        }
        slot = kSlotEntity;
      } else if (q == "external") {
        if (subject == Subject::kProfile) {
          return Fail(a.offset, "external.<column> is not available in on: profile rules");
        }
        slot = subject == Subject::kExternal ? kSlotSelf : kSlotExternal;
      } else if (q == "schedule") {
        slot = kSlotSchedule;
      } else if (q == "sync") {
        if (subject == Subject::kProfile) {
          return Fail(a.offset, "sync.<column> is not available in on: profile rules");
        }
        slot = kSlotSync;
      } else {
        std::string msg =
            "unknown join \"" + q + ".\" (use profile., entity., external., schedule. or sync.)";
        std::string near = NearestKey(q, {"profile", "entity", "external", "schedule", "sync"});
        if (!near.empty()) msg = "unknown join \"" + q + ".\" (did you mean \"" + near + ".\"?)";
        return Fail(a.offset, msg);
      }
    }
    const TableId table = SlotTable(subject, slot);
    const state::TableDef& def = state::Table(table);
    const int col = def.ColumnIndex(a.text);
    if (col < 0) {
      std::vector<std::string> names;
      for (const auto& c : def.columns) names.emplace_back(c.name);
      std::string msg = "unknown column \"" + a.text + "\" of " + std::string(def.name);
      std::string near = NearestKey(a.text, names);
      if (!near.empty()) {
        msg += " (did you mean \"" + near + "\"?)";
      } else if (a.qualifier.empty() && (a.text == "entity" || a.text == "external" ||
                                         a.text == "schedule" || a.text == "sync")) {
        msg += " (join columns are written " + a.text + ".<column>)";
      }
      return Fail(a.offset, msg);
    }
    const state::ColumnDef& cd = def.columns[col];
    out_.slot_mask_ |= SlotBit(slot);
    Node n;
    n.slot = static_cast<uint8_t>(slot);
    n.table = table;
    n.column = col;
    n.type = ColumnTypeInfo(cd);
    n.source_offset = a.offset;
    if (cd.type == ColumnType::kLookup && cd.lookup_table) {
      n.op = Op::kLookupName;
      n.target = *cd.lookup_table;
      auto key = std::make_pair(table, col);
      if (std::find(out_.lookups_.begin(), out_.lookups_.end(), key) == out_.lookups_.end()) {
        out_.lookups_.push_back(key);
      }
    } else {
      n.op = n.type.type == Type::kString ? Op::kColumnText : Op::kColumnNum;
      auto key = std::make_pair(table, col);
      auto it = std::find(out_.columns_.begin(), out_.columns_.end(), key);
      n.column_ref = static_cast<int32_t>(it - out_.columns_.begin());
      if (it == out_.columns_.end()) out_.columns_.push_back(key);
    }
    return Add(n);
  }

  int32_t CompileVariable(const Ast& a) {
    if (!env_.allow_variables) {
      return Fail(a.offset, "$" + a.text + " is only available in templates");
    }
    Node n;
    n.source_offset = a.offset;
    if (a.text == "value") {
      n.op = Op::kValue;
      n.type = env_.value_type;
      return Add(n);
    }
    const auto& known = env_.label_names;
    if (std::find(known.begin(), known.end(), a.qualifier) == known.end()) {
      std::string msg = "unknown label \"" + a.qualifier + "\" in $labels";
      std::string near = NearestKey(a.qualifier, known);
      if (!near.empty()) {
        msg += " (did you mean \"" + near + "\"?)";
      } else if (!known.empty()) {
        std::string list;
        for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
        msg += " (known: " + list + ")";
      }
      return Fail(a.offset, msg);
    }
    n.op = Op::kLabel;
    PoolText(n, a.qualifier);
    n.type = TypeInfo::Of(Type::kString);
    return Add(n);
  }

  int32_t CompileCall(const Ast& a) {
    static const std::vector<std::string> kFunctions = {"now", "age",      "abs",     "max",
                                                        "min", "coalesce", "datetime"};
    const std::string& f = a.text;
    const int argc = static_cast<int>(a.children.size());
    auto want = [&](int lo, int hi) -> bool {
      if (argc >= lo && argc <= hi) return true;
      std::string expected = lo == hi ? std::to_string(lo) : "at least " + std::to_string(lo);
      Fail(a.offset, f + "() takes " + expected + " argument" + (lo == 1 && hi == 1 ? "" : "s") +
                         ", got " + std::to_string(argc));
      return false;
    };
    if (f == "now") {
      if (!want(0, 0)) return -1;
      Node n;
      n.op = Op::kNow;
      n.type = TypeInfo::Of(Type::kDateTime);
      n.source_offset = a.offset;
      return Add(n);
    }
    if (f == "age" || f == "abs" || f == "datetime") {
      if (!want(1, 1)) return -1;
      const Ast& arg = *a.children[0];
      if (f == "datetime" && arg.kind == Ast::Kind::kString) {
        auto t = ParseDateTime(arg.text);
        if (!t) return Fail(arg.offset, t.message());
        return Const(*t, TypeInfo::Of(Type::kDateTime), a.offset);
      }
      int32_t x = Compile(arg);
      if (x < 0) return -1;
      const TypeInfo t = TypeOf(x);
      if (f == "age") {
        if (t.type != Type::kDateTime && t.type != Type::kNull) {
          return Fail(arg.offset, "age() takes a datetime, got " + TypeName(t));
        }
        return Unary(Op::kAge, x, TypeInfo::Of(Type::kDuration), a.offset);
      }
      if (f == "abs") {
        if (t.type != Type::kNumber && t.type != Type::kDuration && t.type != Type::kNull) {
          return Fail(arg.offset, "abs() takes a number or a duration, got " + TypeName(t));
        }
        return Unary(Op::kAbs, x, t, a.offset);
      }
      if (t.type != Type::kString && t.type != Type::kNull) {
        return Fail(arg.offset, "datetime() takes a string, got " + TypeName(t));
      }
      return Unary(Op::kParseDateTime, x, TypeInfo::Of(Type::kDateTime), a.offset);
    }
    if (f == "max" || f == "min" || f == "coalesce") {
      if (!want(f == "coalesce" ? 1 : 2, 1 << 20)) return -1;
      std::vector<int32_t> args;
      TypeInfo common = TypeInfo::Of(Type::kNull);
      // A choice column fixes the type, so that labels among the arguments resolve.
      for (const auto& c : a.children) {
        if (c->kind == Ast::Kind::kName) {
          int32_t x = Compile(*c);
          if (x < 0) return -1;
          if (TypeOf(x).type == Type::kChoice) {
            common = TypeOf(x);
            break;
          }
        }
      }
      for (const auto& c : a.children) {
        int32_t x = common.type == Type::kChoice ? CompileAgainstChoice(*c, common) : Compile(*c);
        if (x < 0) return -1;
        const TypeInfo t = TypeOf(x);
        if (t.type == Type::kNull) {
          args.push_back(x);
          continue;
        }
        if (f != "coalesce" && t.type != Type::kNumber && t.type != Type::kDuration &&
            t.type != Type::kDateTime) {
          return Fail(c->offset,
                      f + "() takes numbers, durations or datetimes, got " + TypeName(t));
        }
        if (common.type == Type::kNull) {
          common = t;
        } else if (!(common == t)) {
          return Fail(c->offset, f + "() arguments must have one type: " + TypeName(common) +
                                     " and " + TypeName(t) + MixHint(common.type, t.type));
        }
        args.push_back(x);
      }
      Op op = f == "max" ? Op::kMax : f == "min" ? Op::kMin : Op::kCoalesce;
      return Variadic(op, args, common, a.offset);
    }
    std::string msg = "unknown function \"" + f + "\"";
    std::string near = NearestKey(f, kFunctions);
    msg += near.empty() ? " (functions: now, age, abs, max, min, coalesce, datetime)"
                        : " (did you mean \"" + near + "\"?)";
    return Fail(a.offset, msg);
  }

  int32_t CompileArith(const Ast& a) {
    int32_t l = Compile(*a.children[0]);
    if (l < 0) return -1;
    int32_t r = Compile(*a.children[1]);
    if (r < 0) return -1;
    const TypeInfo lt = TypeOf(l), rt = TypeOf(r);
    Op op = a.op == Tok::kPlus    ? Op::kAdd
            : a.op == Tok::kMinus ? Op::kSub
            : a.op == Tok::kStar  ? Op::kMul
                                  : Op::kDiv;
    if (lt.type == Type::kNull || rt.type == Type::kNull) {
      return Binary(op, l, r, TypeInfo::Of(Type::kNull), a.offset);
    }
    using T = Type;
    auto is = [&](T x, T y) { return lt.type == x && rt.type == y; };
    T result = T::kNull;
    bool ok = false;
    switch (op) {
      case Op::kAdd:
        ok = true;
        if (is(T::kNumber, T::kNumber)) {
          result = T::kNumber;
        } else if (is(T::kDuration, T::kDuration)) {
          result = T::kDuration;
        } else if (is(T::kDateTime, T::kDuration) || is(T::kDuration, T::kDateTime)) {
          result = T::kDateTime;
        } else {
          ok = false;
        }
        break;
      case Op::kSub:
        ok = true;
        if (is(T::kNumber, T::kNumber)) {
          result = T::kNumber;
        } else if (is(T::kDuration, T::kDuration) || is(T::kDateTime, T::kDateTime)) {
          result = T::kDuration;
        } else if (is(T::kDateTime, T::kDuration)) {
          result = T::kDateTime;
        } else {
          ok = false;
        }
        break;
      case Op::kMul:
        ok = true;
        if (is(T::kNumber, T::kNumber)) {
          result = T::kNumber;
        } else if (is(T::kDuration, T::kNumber) || is(T::kNumber, T::kDuration)) {
          result = T::kDuration;
        } else {
          ok = false;
        }
        break;
      default:
        ok = true;
        if (is(T::kNumber, T::kNumber) || is(T::kDuration, T::kDuration)) {
          result = T::kNumber;
        } else if (is(T::kDuration, T::kNumber)) {
          result = T::kDuration;
        } else {
          ok = false;
        }
    }
    if (!ok) {
      return Fail(a.offset, std::string("cannot apply ") + OpText(a.op) + " to " + TypeName(lt) +
                                " and " + TypeName(rt) + MixHint(lt.type, rt.type));
    }
    return Binary(op, l, r, TypeInfo::Of(result), a.offset);
  }

  // An operand compared with a choice: a label or code literal becomes the
  // code; anything else must be a choice of the same set (or null).
  int32_t CompileAgainstChoice(const Ast& a, const TypeInfo& choice) {
    const state::ChoiceSet& set = *choice.choices;
    if (a.kind == Ast::Kind::kString) {
      auto code = set.CodeOf(a.text);
      if (!code) {
        return Fail(a.offset, "unknown label \"" + a.text + "\" of choice " +
                                  std::string(set.name) + " (known: " + KnownLabels(set) + ")");
      }
      return Const(*code, choice, a.offset);
    }
    if (a.kind == Ast::Kind::kNumber) {
      if (a.number != std::floor(a.number) || std::fabs(a.number) > 2147483647.0) {
        return Fail(a.offset, "choice codes are integers");
      }
      return Const(a.number, choice, a.offset);
    }
    int32_t x = Compile(a);
    if (x < 0) return -1;
    const TypeInfo t = TypeOf(x);
    if (t.type == Type::kNull || t == choice) return x;
    return Fail(a.offset, "a choice of " + std::string(set.name) +
                              " compares only with its labels (\"" +
                              std::string(set.options.empty() ? "" : set.options[0].label) +
                              "\"), its codes or another " + std::string(set.name) +
                              " column, not with " + TypeName(t));
  }

  static Op CompareOp(Tok tok, bool text) {
    switch (tok) {
      case Tok::kEq:
        return text ? Op::kEqText : Op::kEqNum;
      case Tok::kNe:
        return text ? Op::kNeText : Op::kNeNum;
      case Tok::kLt:
        return text ? Op::kLtText : Op::kLtNum;
      case Tok::kLe:
        return text ? Op::kLeText : Op::kLeNum;
      case Tok::kGt:
        return text ? Op::kGtText : Op::kGtNum;
      default:
        return text ? Op::kGeText : Op::kGeNum;
    }
  }

  int32_t CompileCompare(const Ast& a) {
    const Ast& la = *a.children[0];
    const Ast& ra = *a.children[1];
    int32_t l = Compile(la);
    if (l < 0) return -1;
    int32_t r = -1;
    if (TypeOf(l).type == Type::kChoice) {
      r = CompileAgainstChoice(ra, TypeOf(l));
    } else {
      r = Compile(ra);
      if (r >= 0 && TypeOf(r).type == Type::kChoice) l = CompileAgainstChoice(la, TypeOf(r));
    }
    if (l < 0 || r < 0) return -1;
    const TypeInfo lt = TypeOf(l), rt = TypeOf(r);
    const bool equality = a.op == Tok::kEq || a.op == Tok::kNe;
    const TypeInfo bool_type = TypeInfo::Of(Type::kBool);
    if (lt.type == Type::kNull || rt.type == Type::kNull) {
      const bool text = lt.type == Type::kString || rt.type == Type::kString;
      return Binary(CompareOp(a.op, text), l, r, bool_type, a.offset);
    }
    if (!(lt == rt)) {
      return Fail(a.offset, "cannot compare " + TypeName(lt) + " with " + TypeName(rt) +
                                MixHint(lt.type, rt.type));
    }
    if (!equality && lt.type == Type::kChoice) {
      return Fail(a.offset,
                  std::string(OpText(a.op)) + " does not apply to choices (only ==, != and in do)");
    }
    if (!equality && lt.type == Type::kBool) {
      return Fail(a.offset, std::string(OpText(a.op)) + " does not apply to booleans");
    }
    return Binary(CompareOp(a.op, lt.type == Type::kString), l, r, bool_type, a.offset);
  }

  int32_t CompileIn(const Ast& a) {
    int32_t l = Compile(*a.children[0]);
    if (l < 0) return -1;
    TypeInfo lt = TypeOf(l);
    std::vector<int32_t> args{l};
    for (size_t i = 1; i < a.children.size(); ++i) {
      const Ast& item = *a.children[i];
      int32_t x = lt.type == Type::kChoice ? CompileAgainstChoice(item, lt) : Compile(item);
      if (x < 0) return -1;
      TypeInfo t = TypeOf(x);
      if (t.type == Type::kChoice && lt.type != Type::kChoice) {
        return Fail(item.offset, "cannot look for " + TypeName(lt) + " among " + TypeName(t));
      }
      if (t.type != Type::kNull) {
        if (lt.type == Type::kNull) {
          lt = t;
        } else if (!(t == lt)) {
          return Fail(item.offset, "list item of type " + TypeName(t) + " cannot match " +
                                       TypeName(lt) + MixHint(lt.type, t.type));
        }
      }
      args.push_back(x);
    }
    const bool text = lt.type == Type::kString;
    Op op = a.negated ? (text ? Op::kNotInText : Op::kNotInNum) : (text ? Op::kInText : Op::kInNum);
    return Variadic(op, args, TypeInfo::Of(Type::kBool), a.offset);
  }

  Expr& out_;
  const ExprEnv& env_;
  ExprError& error_;
  bool failed_ = false;
};

std::optional<Expr> Expr::Compile(std::string_view text, const ExprEnv& env, ExprError& error) {
  auto ast = ParseExpr(text, error);
  if (!ast) return std::nullopt;
  Expr e;
  e.text_ = std::string(text);
  Compiler c(e, env, error);
  int32_t root = c.Compile(*ast);
  if (root < 0 || c.failed()) return std::nullopt;
  if (env.require_bool && e.nodes_[root].type.type != Type::kBool) {
    const size_t start = text.find_first_not_of(" \t\r\n");
    error = ExprError{
        start == std::string_view::npos ? 0 : static_cast<int>(start),
        "an alert condition must be boolean (true fires), got " + TypeName(e.nodes_[root].type)};
    return std::nullopt;
  }
  e.root_ = root;
  int32_t v = root;
  while (e.nodes_[v].op == Op::kAnd) v = e.nodes_[v].b;
  switch (e.nodes_[v].op) {
    case Op::kEqNum:
    case Op::kNeNum:
    case Op::kLtNum:
    case Op::kLeNum:
    case Op::kGtNum:
    case Op::kGeNum:
    case Op::kEqText:
    case Op::kNeText:
    case Op::kLtText:
    case Op::kLeText:
    case Op::kGtText:
    case Op::kGeText:
    case Op::kIsNull:
    case Op::kIsNotNull:
      v = e.nodes_[v].a;
      break;
    case Op::kInNum:
    case Op::kInText:
    case Op::kNotInNum:
    case Op::kNotInText:
      v = e.args_[e.nodes_[v].a];
      break;
    default:
      break;
  }
  e.value_node_ = v;
  // Live nodes in evaluation order (compiling may leave unused nodes behind).
  std::vector<char> live(e.nodes_.size(), 0);
  std::vector<int32_t> stack{root};
  while (!stack.empty()) {
    const int32_t k = stack.back();
    stack.pop_back();
    if (live[k]) continue;
    live[k] = 1;
    const Node& nd = e.nodes_[k];
    if (nd.op == Op::kMin || nd.op == Op::kMax || nd.op == Op::kCoalesce || nd.op == Op::kInNum ||
        nd.op == Op::kInText || nd.op == Op::kNotInNum || nd.op == Op::kNotInText) {
      for (int32_t i = 0; i < nd.b; ++i) stack.push_back(e.args_[nd.a + i]);
    } else if (nd.op != Op::kConst) {
      if (nd.a >= 0) stack.push_back(nd.a);
      if (nd.b >= 0) stack.push_back(nd.b);
    }
  }
  // Children are always added before their parents, so index order is a
  // valid evaluation order.
  for (size_t k = 0; k < e.nodes_.size(); ++k) {
    if (live[k]) e.order_.push_back(static_cast<int32_t>(k));
  }
  return e;
}

void Expr::Prepare(SnapshotIndex& index, Subject subject) const {
  index.PrepareJoins(subject, slot_mask_);
  for (const auto& [table, column] : lookups_) index.PrepareLookup(table, column);
}

void Expr::AddNeeds(IndexNeeds& needs, Subject subject, bool columns) const {
  needs.slots[static_cast<int>(subject)] |= slot_mask_;
  for (const auto& l : lookups_) {
    if (std::find(needs.lookups.begin(), needs.lookups.end(), l) == needs.lookups.end()) {
      needs.lookups.push_back(l);
    }
  }
  if (!columns) return;
  for (const auto& [table, column] : columns_) {
    auto& list = needs.columns[static_cast<int>(table)];
    if (std::find(list.begin(), list.end(), column) == list.end()) list.push_back(column);
  }
}

bool Expr::uses_time() const {
  for (int32_t n : order_) {
    if (nodes_[n].op == Op::kNow || nodes_[n].op == Op::kAge) return true;
  }
  return false;
}

void Expr::BindColumns(const SnapshotIndex& index, std::vector<const void*>& out) const {
  out.assign(columns_.size(), nullptr);
  for (const auto& node : nodes_) {
    if (node.column_ref < 0) continue;
    if (node.op == Op::kColumnNum) {
      out[node.column_ref] = index.NumberColumn(node.table, node.column);
    } else if (node.op == Op::kColumnText) {
      out[node.column_ref] = index.TextColumn(node.table, node.column);
    }
  }
}

}  // namespace linkwatch::rules
