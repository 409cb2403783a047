// Template: label values and annotations of alert rules (contract.md section
// 4, "Alerts"). Text with `{{ expr }}` holes, where expr is any expression
// over the rule's subject plus $labels.<name> and $value. Values render as
// FormatValue does: durations compact ("21m"), datetimes ISO-8601 UTC,
// choices as labels, null as "".
//
// Templates are parsed and type-checked when the rule file loads; a runtime
// error (such as datetime() of text that is no datetime) never drops the
// alert: the rendered text becomes the error message and Rendered::error is
// set, so that the notification can count a `template` failure.
// Immutable value type; Render is const and thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "rules/expr_program.h"

namespace linkwatch::rules {

class Template {
 public:
  // nullopt and `error` (a byte offset into `text`) on a malformed template.
  static std::optional<Template> Compile(std::string_view text, const ExprEnv& env,
                                         ExprError& error);

  struct Rendered {
    std::string text;
    bool error = false;
  };
  Rendered Render(const EvalContext& ctx) const;

  // True when the text has no {{ }}: Render always returns text().
  bool is_constant() const { return constant_; }
  const std::string& text() const { return text_; }
  uint8_t slot_mask() const;
  void Prepare(SnapshotIndex& index, Subject subject) const;
  // Joins and lookups only: templates run for matching rows, not every row.
  void AddNeeds(IndexNeeds& needs, Subject subject) const;

 private:
  struct Part {
    std::string literal;
    std::optional<Expr> expr;
  };
  std::string text_;
  std::vector<Part> parts_;
  bool constant_ = true;
};

}  // namespace linkwatch::rules
