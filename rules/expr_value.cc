#include "rules/expr_value.h"

#include <charconv>
#include <cmath>

#include "agent/core/time_format.h"

namespace linkwatch::rules {

std::string TypeName(const TypeInfo& t) {
  switch (t.type) {
    case Type::kNull:
      return "null";
    case Type::kBool:
      return "boolean";
    case Type::kNumber:
      return "number";
    case Type::kString:
      return "string";
    case Type::kDuration:
      return "duration";
    case Type::kDateTime:
      return "datetime";
    case Type::kChoice:
      return t.choices ? "choice " + std::string(t.choices->name) : "choice";
  }
  return "?";
}

std::string FormatNumber(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  if (ec != std::errc()) return std::to_string(v);
  return std::string(buf, end);
}

std::string FormatValue(const Value& v, const TypeInfo& type) {
  if (v.is_null()) return "";
  if (v.tag == Value::Tag::kText) return std::string(v.text);
  switch (type.type) {
    case Type::kBool:
      return v.number != 0 ? "true" : "false";
    case Type::kDuration:
      return FormatDurationSeconds(v.number);
    case Type::kDateTime:
      return std::isfinite(v.number) ? FormatDateTime(v.number) : FormatNumber(v.number);
    case Type::kChoice:
      if (type.choices && v.number == std::floor(v.number) && std::fabs(v.number) < 1e9) {
        if (const auto* label = type.choices->LabelOf(static_cast<int>(v.number))) {
          return std::string(*label);
        }
      }
      return FormatNumber(v.number);
    default:
      return FormatNumber(v.number);
  }
}

}  // namespace linkwatch::rules
