#include "rules/expr_lexer.h"

#include <cctype>
#include <charconv>

#include "agent/core/text.h"
#include "agent/core/time_format.h"
#include "agent/core/utf8.h"

namespace linkwatch::rules {
namespace {

bool IsIdentStart(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool IsIdentChar(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// An unexpected character as an error message shows it: printable ASCII and
// valid UTF-8 as they are, any other byte as \xC3 (two upper-case hex digits).
std::string ShownCharacter(std::string_view rest) {
  const unsigned char c = static_cast<unsigned char>(rest[0]);
  if (c >= 0x20 && c < 0x7F) return std::string(1, static_cast<char>(c));
  if (const Utf8Sequence u = Utf8At(rest); c >= 0x80 && u.valid)
    return std::string(rest.substr(0, u.length));
  static constexpr char kHex[] = "0123456789ABCDEF";
  return std::string{'\\', 'x', kHex[c >> 4], kHex[c & 0xF]};
}

Tok KeywordOf(std::string_view word) {
  const std::string w = AsciiToLower(word);
  if (w == "and") return Tok::kAnd;
  if (w == "or") return Tok::kOr;
  if (w == "not") return Tok::kNot;
  if (w == "in") return Tok::kIn;
  if (w == "is") return Tok::kIs;
  if (w == "null") return Tok::kNull;
  if (w == "true") return Tok::kTrue;
  if (w == "false") return Tok::kFalse;
  return Tok::kIdent;
}

}  // namespace

bool Lex(std::string_view text, std::vector<Token>& tokens, ExprError& error) {
  tokens.clear();
  const int n = static_cast<int>(text.size());
  int i = 0;
  auto fail = [&](int at, std::string message) {
    error = ExprError{at, std::move(message)};
    return false;
  };
  while (true) {
    while (i < n && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
    Token t;
    t.offset = i;
    if (i >= n) {
      // Errors at the end point just after the last token, not past trailing space.
      int end = n;
      while (end > 0 && std::isspace(static_cast<unsigned char>(text[end - 1]))) --end;
      t.offset = end;
      t.kind = Tok::kEnd;
      tokens.push_back(std::move(t));
      return true;
    }
    const char c = text[i];
    const char next = i + 1 < n ? text[i + 1] : '\0';
    if (IsDigit(c) || (c == '.' && IsDigit(next))) {
      int j = i;
      while (j < n && IsDigit(text[j])) ++j;
      if (j < n && text[j] == '.') {
        ++j;
        while (j < n && IsDigit(text[j])) ++j;
      }
      if (j < n && (text[j] == 'e' || text[j] == 'E')) {
        int k = j + 1;
        if (k < n && (text[k] == '+' || text[k] == '-')) ++k;
        if (k < n && IsDigit(text[k])) {
          j = k;
          while (j < n && IsDigit(text[j])) ++j;
        }
      }
      if (j < n && (IsIdentChar(text[j]) || text[j] == '.')) {
        // Not a plain number: a duration such as 90s or 1h30m.
        int k = i;
        while (k < n && (IsIdentChar(text[k]) || text[k] == '.')) ++k;
        std::string_view word = text.substr(i, k - i);
        auto d = ParseDuration(word);
        if (!d) return fail(i, d.message());
        t.kind = Tok::kDuration;
        t.number = static_cast<double>(d->count()) / 1000.0;
        t.length = k - i;
        i = k;
      } else {
        double v = 0;
        auto [p, ec] = std::from_chars(text.data() + i, text.data() + j, v);
        if (ec != std::errc() || p != text.data() + j) {
          return fail(i, "invalid number \"" + std::string(text.substr(i, j - i)) + "\"");
        }
        t.kind = Tok::kNumber;
        t.number = v;
        t.length = j - i;
        i = j;
      }
      tokens.push_back(std::move(t));
      continue;
    }
    if (IsIdentStart(c)) {
      int j = i;
      while (j < n && IsIdentChar(text[j])) ++j;
      t.text = std::string(text.substr(i, j - i));
      t.kind = KeywordOf(t.text);
      t.length = j - i;
      i = j;
      tokens.push_back(std::move(t));
      continue;
    }
    if (c == '$') {
      int j = i + 1;
      while (j < n && IsIdentChar(text[j])) ++j;
      std::string name(text.substr(i + 1, j - i - 1));
      if (name != "labels" && name != "value") {
        return fail(i, "unknown variable \"$" + name + "\" (templates know $labels and $value)");
      }
      t.kind = Tok::kVariable;
      t.text = std::move(name);
      t.length = j - i;
      i = j;
      tokens.push_back(std::move(t));
      continue;
    }
    if (c == '"' || c == '\'') {
      int j = i + 1;
      std::string s;
      bool closed = false;
      while (j < n) {
        char d = text[j];
        if (d == c) {
          closed = true;
          ++j;
          break;
        }
        if (d == '\\' && j + 1 < n) {
          char e = text[j + 1];
          switch (e) {
            case 'n':
              s += '\n';
              break;
            case 't':
              s += '\t';
              break;
            case 'r':
              s += '\r';
              break;
            default:
              s += e;  // \\ \" \' and anything else: the character itself
          }
          j += 2;
          continue;
        }
        s += d;
        ++j;
      }
      if (!closed) return fail(i, "unterminated string");
      t.kind = Tok::kString;
      t.text = std::move(s);
      t.length = j - i;
      i = j;
      tokens.push_back(std::move(t));
      continue;
    }
    auto two = [&](char a, char b) { return c == a && next == b; };
    t.length = 1;
    if (two('=', '=')) {
      t.kind = Tok::kEq, t.length = 2;
    } else if (two('!', '=')) {
      t.kind = Tok::kNe, t.length = 2;
    } else if (two('<', '=')) {
      t.kind = Tok::kLe, t.length = 2;
    } else if (two('>', '=')) {
      t.kind = Tok::kGe, t.length = 2;
    } else if (two('<', '>')) {
      return fail(i, "unexpected \"<>\" (write != for not equal)");
    } else if (two('&', '&')) {
      return fail(i, "unexpected \"&&\" (write and)");
    } else if (two('|', '|')) {
      return fail(i, "unexpected \"||\" (write or)");
    } else {
      switch (c) {
        case '=':
          return fail(i, "unexpected \"=\" (write == to compare)");
        case '!':
          return fail(i, "unexpected \"!\" (write not, or != for not equal)");
        case '<':
          t.kind = Tok::kLt;
          break;
        case '>':
          t.kind = Tok::kGt;
          break;
        case '+':
          t.kind = Tok::kPlus;
          break;
        case '-':
          t.kind = Tok::kMinus;
          break;
        case '*':
          t.kind = Tok::kStar;
          break;
        case '/':
          t.kind = Tok::kSlash;
          break;
        case '(':
          t.kind = Tok::kLParen;
          break;
        case ')':
          t.kind = Tok::kRParen;
          break;
        case '[':
          t.kind = Tok::kLBracket;
          break;
        case ']':
          t.kind = Tok::kRBracket;
          break;
        case ',':
          t.kind = Tok::kComma;
          break;
        case '.':
          t.kind = Tok::kDot;
          break;
        default:
          return fail(i, "unexpected character \"" + ShownCharacter(text.substr(i)) + "\"");
      }
    }
    i += t.length;
    tokens.push_back(std::move(t));
  }
}

std::string TokenDescription(const Token& t) {
  switch (t.kind) {
    case Tok::kEnd:
      return "end of expression";
    case Tok::kNumber:
      return "number";
    case Tok::kDuration:
      return "duration";
    case Tok::kString:
      return "string \"" + t.text + "\"";
    case Tok::kIdent:
      return "\"" + t.text + "\"";
    case Tok::kVariable:
      return "\"$" + t.text + "\"";
    default:
      break;
  }
  static const char* const kNames[] = {"",    "",   "",   "",     "",     "",     ".",   "(",
                                       ")",   "[",  "]",  ",",    "+",    "-",    "*",   "/",
                                       "==",  "!=", "<",  "<=",   ">",    ">=",   "and", "or",
                                       "not", "in", "is", "null", "true", "false"};
  return std::string("\"") + kNames[static_cast<int>(t.kind)] + "\"";
}

}  // namespace linkwatch::rules
