#include "agent/state/snapshot.h"

#include <cstring>

namespace linkwatch::state {

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

Snapshot::Snapshot() {
  for (const auto& t : AllTables()) tables[static_cast<int>(t.id)].def = &t;
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
      return Cell::Number(value.number);
    case Cell::Kind::kText:
      return Text(value.text);
    case Cell::Kind::kNull:
      break;
  }
  return Cell::Null();
}

}  // namespace linkwatch::state
