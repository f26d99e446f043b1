#include "smx/data/shuffle_buffer.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace smx {
namespace {

TEST(ShuffleBuffer, EmitsEveryItemOnceAndShuffles) {
  ShuffleBuffer<int> buffer(16);
  Rng rng(3);
  std::vector<int> out;
  for (int i = 0; i < 200; ++i) {
    if (auto x = buffer.push(i, rng)) out.push_back(*x);
  }
  const auto rest = buffer.drain();
  EXPECT_LE(rest.size(), 16u);
  out.insert(out.end(), rest.begin(), rest.end());
  ASSERT_EQ(out.size(), 200u);
  std::vector<int> sorted = out;
  std::sort(sorted.begin(), sorted.end());
  for (int i = 0; i < 200; ++i) EXPECT_EQ(sorted[i], i);
  EXPECT_FALSE(std::is_sorted(out.begin(), out.end()));
  EXPECT_TRUE(buffer.drain().empty());
}

TEST(ShuffleBuffer, ReplacesARandomSlot) {
  // One slot: the first push fills it, each later push emits the previous item.
  ShuffleBuffer<int> buffer(1);
  Rng rng(0);
  EXPECT_FALSE(buffer.push(1, rng).has_value());
  EXPECT_EQ(buffer.push(2, rng), 1);
  EXPECT_EQ(buffer.push(3, rng), 2);
}

}  // namespace
}  // namespace smx
