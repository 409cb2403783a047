#include "rules/template.h"

#include <algorithm>

namespace linkwatch::rules {

std::optional<Template> Template::Compile(std::string_view text, const ExprEnv& env,
                                          ExprError& error) {
  Template t;
  t.text_ = std::string(text);
  std::string literal;
  size_t i = 0;
  while (i < text.size()) {
    if (text.compare(i, 2, "{{") != 0) {
      literal += text[i++];
      continue;
    }
    const size_t open = i;
    const size_t start = i + 2;
    // Find the closing braces outside string literals.
    size_t j = start;
    char quote = 0;
    bool closed = false;
    while (j < text.size()) {
      char c = text[j];
      if (quote) {
        if (c == '\\') {
          j += 2;
          continue;
        }
        if (c == quote) quote = 0;
        ++j;
        continue;
      }
      if (c == '"' || c == '\'') {
        quote = c;
        ++j;
        continue;
      }
      if (text.compare(j, 2, "}}") == 0) {
        closed = true;
        break;
      }
      ++j;
    }
    if (!closed) {
      error = ExprError{static_cast<int>(open), "unclosed \"{{\" (expected \"}}\")"};
      return std::nullopt;
    }
    std::string_view inner = text.substr(start, j - start);
    if (inner.find_first_not_of(" \t\r\n") == std::string_view::npos) {
      error = ExprError{static_cast<int>(open), "empty \"{{ }}\""};
      return std::nullopt;
    }
    ExprError inner_error;
    auto expr = Expr::Compile(inner, env, inner_error);
    if (!expr) {
      error = ExprError{static_cast<int>(start) + inner_error.offset, inner_error.message};
      return std::nullopt;
    }
    if (!literal.empty()) t.parts_.push_back(Part{std::move(literal), std::nullopt});
    literal.clear();
    t.parts_.push_back(Part{std::string(), std::move(expr)});
    t.constant_ = false;
    i = j + 2;
  }
  if (!literal.empty()) t.parts_.push_back(Part{std::move(literal), std::nullopt});
  return t;
}

Template::Rendered Template::Render(const EvalContext& ctx) const {
  if (constant_) return {text_, false};
  Rendered out;
  std::string runtime_error;
  EvalContext c = ctx;
  c.error = &runtime_error;
  c.columns = nullptr;  // bound for the rule's condition, not for these expressions
  for (const auto& p : parts_) {
    if (!p.expr) {
      out.text += p.literal;
      continue;
    }
    Value v = p.expr->Eval(c);
    if (!runtime_error.empty()) {
      std::string_view shown = p.expr->text();
      shown.remove_prefix(std::min(shown.size(), shown.find_first_not_of(" \t\r\n")));
      shown = shown.substr(0, shown.find_last_not_of(" \t\r\n") + 1);
      return {"template error in {{ " + std::string(shown) + " }}: " + runtime_error, true};
    }
    out.text += FormatValue(v, p.expr->type());
  }
  return out;
}

uint8_t Template::slot_mask() const {
  uint8_t mask = 0;
  for (const auto& p : parts_) {
    if (p.expr) mask |= p.expr->slot_mask();
  }
  return mask;
}

void Template::Prepare(SnapshotIndex& index, Subject subject) const {
  for (const auto& p : parts_) {
    if (p.expr) p.expr->Prepare(index, subject);
  }
}

void Template::AddNeeds(IndexNeeds& needs, Subject subject) const {
  for (const auto& p : parts_) {
    if (p.expr) p.expr->AddNeeds(needs, subject, /*columns=*/false);
  }
}

}  // namespace linkwatch::rules
