#include "agent/state/snapshot.h"

#include <bit>
#include <charconv>
#include <climits>
#include <cmath>
#include <cstring>

#include "agent/core/text.h"

namespace linkwatch::state {

const char* NotInt64Reason(double d) {
  if (std::isnan(d)) return "not a number";
  if (std::isinf(d) || std::fabs(d) >= 9223372036854775808.0) return "out of int64 range";
  return "not a whole number";
}

std::optional<int64_t> IntegerOfText(std::string_view t, ColumnType type, const char*& reason) {
  while (!t.empty() && (t.front() == ' ' || t.front() == '\t')) t.remove_prefix(1);
  while (!t.empty() && (t.back() == ' ' || t.back() == '\t')) t.remove_suffix(1);
  if (type == ColumnType::kBool) {
    if (EqualsIgnoreCase(t, "true")) return 1;
    if (EqualsIgnoreCase(t, "false")) return 0;
  }
  const char* end = t.data() + t.size();
  int64_t i = 0;
  if (auto [p, ec] = std::from_chars(t.data(), end, i);
      ec == std::errc() && p == end && !t.empty()) {
    return i;
  }
  double d = 0;
  auto [p, ec] = std::from_chars(t.data(), end, d);
  if (t.empty() || ec == std::errc::invalid_argument || p != end) {
    reason = "not a number";
    return std::nullopt;
  }
  if (ec != std::errc()) {
    reason = "out of int64 range";  // beyond even a double
    return std::nullopt;
  }
  auto value = WholeInt64(d);
  if (!value) reason = NotInt64Reason(d);
  return value;
}

std::optional<int64_t> CheckChoiceRange(int64_t value, ColumnType type, const char*& reason) {
  if (type == ColumnType::kChoice && (value < INT32_MIN || value > INT32_MAX)) {
    reason = "not a choice code (outside int32)";
    return std::nullopt;
  }
  return value;
}

std::optional<int64_t> WholeInt64(double v) {
  if (!(v >= -9223372036854775808.0 && v < 9223372036854775808.0)) return std::nullopt;
  if (v != std::trunc(v)) return std::nullopt;
  return static_cast<int64_t>(v);
}

std::string_view TextPool::Add(std::string_view text) {
  if (text.empty()) return std::string_view("", 0);
  if (text.size() > kBlock / 4) {
    // Large texts get a block of their own, placed before the current one
    // so the current block keeps filling.
    auto big = std::make_unique<char[]>(text.size());
    std::memcpy(big.get(), text.data(), text.size());
    const char* p = big.get();
    blocks_.insert(blocks_.empty() ? blocks_.end() : blocks_.end() - 1, std::move(big));
    bytes_ += text.size();
    return {p, text.size()};
  }
  if (used_ + text.size() > kBlock) {
    blocks_.push_back(std::make_unique<char[]>(kBlock));
    used_ = 0;
  }
  char* p = blocks_.back().get() + used_;
  std::memcpy(p, text.data(), text.size());
  used_ += text.size();
  bytes_ += text.size();
  return {p, text.size()};
}

bool Cell::operator==(const Cell& other) const {
  if (kind != other.kind) return false;
  switch (kind) {
    case Kind::kNull:
      return true;
    case Kind::kNumber:
      return std::bit_cast<uint64_t>(number) == std::bit_cast<uint64_t>(other.number);
    case Kind::kInt:
      return integer == other.integer;
    case Kind::kText:
      return text() == other.text();
  }
  return false;
}

// Snapshot::operator== names every member: one added to Snapshot changes its
// size, and this fails until the comparison (and this sum) is updated.
static_assert(sizeof(Snapshot) == sizeof(std::array<TableRows, kTableCount>) +
                                      4 * sizeof(std::vector<int>) +
                                      sizeof(std::shared_ptr<TextPool>),
              "a new Snapshot member must be compared in Snapshot::operator==");

bool Snapshot::operator==(const Snapshot& other) const {
  return tables == other.tables && sync_errors == other.sync_errors &&
         sync_breaks == other.sync_breaks && failed_records == other.failed_records &&
         invalid_values == other.invalid_values;
}

Snapshot::Snapshot() {
  for (int t = 0; t < kTableCount; ++t) tables[t].def = &Table(static_cast<TableId>(t));
}

Cell Snapshot::Text(std::string_view text) {
  const std::string_view stored = text_->Add(text);
  Cell c;
  c.kind = Cell::Kind::kText;
  c.size = static_cast<uint32_t>(stored.size());
  c.data = stored.data();
  return c;
}

Cell Snapshot::Store(const CellValue& value) {
  switch (value.kind) {
    case Cell::Kind::kNumber:
    case Cell::Kind::kInt:  // hand-built values carry a double
      return Cell::Number(value.number);
    case Cell::Kind::kText:
      return Text(value.text);
    case Cell::Kind::kNull:
      break;
  }
  return Cell::Null();
}

std::string InvalidValue::ToString() const {
  return std::string(Table(table).name) + "." + column + " of row " +
         (row_id.empty() ? std::string("(no id)") : row_id) + ": " + reason + ": \"" + value +
         "\" (read as null)";
}

}  // namespace linkwatch::state
