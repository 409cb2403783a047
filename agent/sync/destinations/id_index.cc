#include "agent/sync/destinations/id_index.h"

#include <cstring>

namespace linkwatch::sync {

uint64_t IdIndex::Hash(std::string_view id) {
  // FNV-1a over 8-byte words, finished with murmur3's fmix64 so that Ids
  // differing only in their last characters spread over the low bits.
  uint64_t h = 0xcbf29ce484222325ULL ^ id.size();
  size_t i = 0;
  for (; i + 8 <= id.size(); i += 8) {
    uint64_t w;
    std::memcpy(&w, id.data() + i, 8);
    h = (h ^ w) * 0x100000001b3ULL;
  }
  for (; i < id.size(); ++i) h = (h ^ static_cast<unsigned char>(id[i])) * 0x100000001b3ULL;
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ULL;
  return h ^ (h >> 33);
}

size_t IdIndex::Locate(std::string_view id, uint64_t hash, bool& found) const {
  const size_t mask = slots_.size() - 1;
  size_t free_slot = SIZE_MAX;
  for (size_t i = hash & mask;; i = (i + 1) & mask) {
    const Slot& s = slots_[i];
    if (s.partition == kEmpty) {
      found = false;
      return free_slot != SIZE_MAX ? free_slot : i;
    }
    if (s.partition == kTombstone) {
      if (free_slot == SIZE_MAX) free_slot = i;
    } else if (s.hash == hash && Key(s) == id) {
      found = true;
      return i;
    }
  }
}

int IdIndex::Find(std::string_view id) const {
  if (slots_.empty()) return -1;
  bool found = false;
  const size_t i = Locate(id, Hash(id), found);
  return found ? slots_[i].partition : -1;
}

void IdIndex::Put(std::string_view id, int partition) {
  if ((used_ + 1) * 10 >= slots_.size() * 7) Grow();
  const uint64_t h = Hash(id);
  bool found = false;
  const size_t i = Locate(id, h, found);
  Slot& s = slots_[i];
  if (!found) {
    if (s.partition == kEmpty) ++used_;
    ++live_;
    s.hash = h;
    s.offset = static_cast<uint32_t>(arena_.size());
    if (id.size() < kLongKey) {
      s.length = static_cast<uint16_t>(id.size());
    } else {
      // A very long Id: its length goes in the arena, before its bytes.
      s.length = kLongKey;
      const auto n = static_cast<uint32_t>(id.size());
      arena_.append(reinterpret_cast<const char*>(&n), sizeof n);
    }
    arena_.append(id);
  }
  s.partition = static_cast<uint16_t>(partition);
}

void IdIndex::Erase(std::string_view id) {
  if (slots_.empty()) return;
  bool found = false;
  const size_t i = Locate(id, Hash(id), found);
  if (!found) return;
  slots_[i].partition = kTombstone;
  --live_;
}

void IdIndex::clear() {
  slots_.clear();
  arena_.clear();
  live_ = used_ = 0;
}

void IdIndex::reserve(size_t ids) {
  size_t cap = 16;
  while (cap * 7 < ids * 10) cap <<= 1;
  if (cap > slots_.size()) Rebuild(cap);
}

void IdIndex::Grow() {
  // Doubles when more than half the slots are live; otherwise rebuilds at
  // the same size, which drops tombstones and the bytes of erased Ids.
  size_t cap = slots_.empty() ? 16 : slots_.size();
  if ((live_ + 1) * 2 >= cap) cap *= 2;
  Rebuild(cap);
}

void IdIndex::Rebuild(size_t capacity) {
  std::vector<Slot> old = std::move(slots_);
  std::string old_arena = std::move(arena_);
  slots_.assign(capacity, Slot{});
  arena_.clear();
  arena_.reserve(old_arena.size());
  live_ = used_ = 0;
  for (const Slot& s : old) {
    if (s.partition == kEmpty || s.partition == kTombstone) continue;
    Put(KeyIn(old_arena, s), s.partition);
  }
}

std::string_view IdIndex::KeyIn(const std::string& arena, const Slot& s) {
  if (s.length != kLongKey) return {arena.data() + s.offset, s.length};
  uint32_t n;
  std::memcpy(&n, arena.data() + s.offset, sizeof n);
  return {arena.data() + s.offset + sizeof n, n};
}

}  // namespace linkwatch::sync
