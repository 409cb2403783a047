// IdIndex: which partition holds each Id of an in-place lake table. A flat
// open-addressing table over an append-only arena of Id bytes: 16 bytes per
// slot plus the Id text, about half of what an unordered_map<std::string,
// int> costs, and no allocation per Id, so a million-row table's index
// builds in a fraction of a second and fits the in-place memory budget.
// Not thread-safe (one table writer uses it).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace linkwatch::sync {

class IdIndex {
 public:
  // The partition of `id`, or -1.
  int Find(std::string_view id) const;
  // Sets the partition (0..65534) of `id`.
  void Put(std::string_view id, int partition);
  void Erase(std::string_view id);
  size_t size() const { return live_; }
  void clear();
  void reserve(size_t ids);

 private:
  static constexpr uint16_t kEmpty = 0xffff;      // never used
  static constexpr uint16_t kTombstone = 0xfffe;  // erased: probing goes on
  struct Slot {
    uint64_t hash = 0;
    uint32_t offset = 0;
    uint16_t length = 0;
    uint16_t partition = kEmpty;
  };
  static uint64_t Hash(std::string_view id);
  // The slot holding `id`, or the first free one on its probe path.
  size_t Locate(std::string_view id, uint64_t hash, bool& found) const;
  static constexpr uint16_t kLongKey = 0xffff;  // length stored in the arena
  static std::string_view KeyIn(const std::string& arena, const Slot& s);
  std::string_view Key(const Slot& s) const { return KeyIn(arena_, s); }
  void Grow();
  void Rebuild(size_t capacity);

  std::vector<Slot> slots_;
  std::string arena_;
  size_t live_ = 0;
  size_t used_ = 0;  // live + tombstones
};

}  // namespace linkwatch::sync
