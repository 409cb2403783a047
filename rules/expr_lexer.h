// Lexer of the rule expression language: turns one expression's text into
// tokens carrying their byte offset, so that every later error can point at
// the exact column. Duration literals ("90s", "1h30m") and keywords
// (and, or, not, in, is, null, true, false; case-insensitive) are recognised
// here. Pure functions; thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace linkwatch::rules {

enum class Tok {
  kEnd,
  kNumber,    // number
  kDuration,  // number = seconds
  kString,    // text = decoded contents
  kIdent,     // text
  kVariable,  // "$labels" / "$value": text without the '$'
  kDot,
  kLParen,
  kRParen,
  kLBracket,
  kRBracket,
  kComma,
  kPlus,
  kMinus,
  kStar,
  kSlash,
  kEq,
  kNe,
  kLt,
  kLe,
  kGt,
  kGe,
  kAnd,
  kOr,
  kNot,
  kIn,
  kIs,
  kNull,
  kTrue,
  kFalse,
};

struct Token {
  Tok kind = Tok::kEnd;
  int offset = 0;  // byte offset in the expression text
  int length = 0;
  std::string text;
  double number = 0;
};

// An error inside one expression: `offset` is a byte offset into its text.
struct ExprError {
  int offset = 0;
  std::string message;
};

// Tokenises `text`; the last token is kEnd. Returns false and fills `error`
// on a character or literal that cannot start a token.
bool Lex(std::string_view text, std::vector<Token>& tokens, ExprError& error);

// How a token is written in messages ("'=='", "end of expression").
std::string TokenDescription(const Token& t);

}  // namespace linkwatch::rules
