#include "smx/data/rng.h"

#include <gtest/gtest.h>

#include <vector>

#include "smx/core/error.h"

namespace smx {
namespace {

TEST(Rng, SameSeedSameStreamAndStateRestores) {
  Rng a(42), b(42), c(43);
  EXPECT_EQ(a.next_u64(), b.next_u64());
  EXPECT_NE(a.next_u64(), c.next_u64());
  const auto saved = a.state();
  std::vector<uint64_t> first;
  for (int i = 0; i < 10; ++i) first.push_back(a.next_u64());
  Rng d;
  d.set_state(saved);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(d.next_u64(), first[i]);
}

TEST(Rng, UniformCoversRangeEvenly) {
  Rng rng(7);
  std::vector<int> counts(6, 0);
  for (int i = 0; i < 60000; ++i) {
    const auto x = rng.uniform(6);
    ASSERT_LT(x, 6u);
    ++counts[x];
  }
  for (const int c : counts) EXPECT_NEAR(c, 10000, 400);
  for (int i = 0; i < 1000; ++i) {
    const double u = rng.uniform01();
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
  }
  EXPECT_THROW(rng.uniform(0), Error);
  EXPECT_THROW(rng.set_state({0, 0, 0, 0}), Error);
}

}  // namespace
}  // namespace smx
