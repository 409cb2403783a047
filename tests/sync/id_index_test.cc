#include "agent/sync/destinations/id_index.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <unordered_map>

namespace linkwatch::sync {
namespace {

TEST(IdIndexTest, FindsWhatWasPutAndForgetsWhatWasErased) {
  IdIndex index;
  EXPECT_EQ(index.Find("a"), -1);
  index.Put("a", 3);
  index.Put("b", 0);
  index.Put("a", 5);  // moves a to partition 5
  EXPECT_EQ(index.Find("a"), 5);
  EXPECT_EQ(index.Find("b"), 0);
  EXPECT_EQ(index.size(), 2u);
  index.Erase("a");
  index.Erase("nope");
  EXPECT_EQ(index.Find("a"), -1);
  EXPECT_EQ(index.size(), 1u);
  index.Put("a", 1);  // reuses the tombstone's probe path
  EXPECT_EQ(index.Find("a"), 1);
}

TEST(IdIndexTest, AgreesWithAMapUnderRandomPutsAndErases) {
  IdIndex index;
  std::unordered_map<std::string, int> model;
  std::mt19937 rng(5);
  for (int i = 0; i < 200000; ++i) {
    const std::string id = "id-" + std::to_string(rng() % 20000);
    if (rng() % 3 == 0) {
      index.Erase(id);
      model.erase(id);
    } else {
      const int p = static_cast<int>(rng() % 12);
      index.Put(id, p);
      model[id] = p;
    }
  }
  EXPECT_EQ(index.size(), model.size());
  for (int k = 0; k < 20000; ++k) {
    const std::string id = "id-" + std::to_string(k);
    auto it = model.find(id);
    EXPECT_EQ(index.Find(id), it == model.end() ? -1 : it->second) << id;
  }
}

TEST(IdIndexTest, KeepsVeryLongIdsAndEmptyOnes) {
  IdIndex index;
  const std::string long_id(70000, 'x');
  index.Put(long_id, 2);
  index.Put("", 4);
  index.reserve(100000);  // a rebuild keeps both
  EXPECT_EQ(index.Find(long_id), 2);
  EXPECT_EQ(index.Find(std::string(70000, 'y')), -1);
  EXPECT_EQ(index.Find(""), 4);
}

}  // namespace
}  // namespace linkwatch::sync
