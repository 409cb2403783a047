// Static types and runtime values of the rule expression language
// (contract.md section 4, "The language").
//
// Value is a small POD: numbers, booleans (0/1), durations (seconds),
// datetimes (epoch seconds) and choice codes are all doubles, told apart by
// the static TypeInfo that the type checker attached to the expression; text
// is a string_view into the evaluated Snapshot's cells or the compiled
// program's constant pool, so evaluating never allocates. A Value does not
// own what it points to. Plain value types; thread-safe to share read-only.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "agent/state/schema.h"

namespace linkwatch::rules {

enum class Type : uint8_t { kNull, kBool, kNumber, kString, kDuration, kDateTime, kChoice };

struct TypeInfo {
  Type type = Type::kNull;
  const state::ChoiceSet* choices = nullptr;  // kChoice only

  bool operator==(const TypeInfo& o) const { return type == o.type && choices == o.choices; }
  static TypeInfo Of(Type t) { return {t, nullptr}; }
};

// "number", "duration", "choice synapselinkentitysyncstate", ...
std::string TypeName(const TypeInfo& t);

struct Value {
  enum class Tag : uint8_t { kNull, kNumber, kText };
  Tag tag = Tag::kNull;
  double number = 0;
  std::string_view text;

  static Value Null() { return {}; }
  static Value Number(double v) { return {Tag::kNumber, v, {}}; }
  static Value Bool(bool b) { return {Tag::kNumber, b ? 1.0 : 0.0, {}}; }
  static Value Text(std::string_view v) { return {Tag::kText, 0, v}; }
  bool is_null() const { return tag == Tag::kNull; }
  // True only for a non-null boolean true: a null result does not fire.
  bool IsTrue() const { return tag == Tag::kNumber && number != 0; }
};

// Renders a value as templates print it: durations compact ("21m", "1h5m"),
// datetimes ISO-8601 UTC, choices as their label (the code if unknown),
// booleans true/false, numbers in their shortest exact form, null as "".
std::string FormatValue(const Value& v, const TypeInfo& type);
// Shortest round-trip text of a number ("10", "0.01", "1e+21").
std::string FormatNumber(double v);

}  // namespace linkwatch::rules
