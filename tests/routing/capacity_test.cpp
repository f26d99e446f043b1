#include <gtest/gtest.h>

#include "smx/routing/capacity.h"

namespace smx::routing {
namespace {

TEST(CapacityTest, ReferenceValues) {
  // docs/design.md §2.1: S = 512, E = 16 -> 32 (cf 1) / 16 (cf 0.5); S = 4096 -> 256 / 128.
  EXPECT_EQ(expert_capacity(1.0, 512, 16, 4), 32);
  EXPECT_EQ(expert_capacity(0.5, 512, 16, 4), 16);
  EXPECT_EQ(expert_capacity(1.0, 4096, 16, 4), 256);
  EXPECT_EQ(expert_capacity(0.5, 4096, 16, 4), 128);
}

TEST(CapacityTest, HalvesRoundToEven) {
  EXPECT_EQ(expert_capacity(1.0, 10, 4, 0), 2);  // 2.5 -> 2
  EXPECT_EQ(expert_capacity(1.0, 14, 4, 0), 4);  // 3.5 -> 4
  EXPECT_EQ(expert_capacity(1.0, 18, 4, 0), 4);  // 4.5 -> 4
  EXPECT_EQ(expert_capacity(1.0, 22, 4, 0), 6);  // 5.5 -> 6
  EXPECT_EQ(expert_capacity(1.0, 11, 4, 0), 3);  // 2.75 -> 3
  EXPECT_EQ(expert_capacity(0.5, 20, 4, 0), 2);  // 2.5 -> 2
}

TEST(CapacityTest, MinimumCapacity) {
  EXPECT_EQ(expert_capacity(1.0, 16, 16, 4), 4);   // 1 -> minimum 4
  EXPECT_EQ(expert_capacity(0.5, 64, 16, 4), 4);   // 2 -> 4
  EXPECT_EQ(expert_capacity(1.0, 128, 16, 4), 8);  // above the minimum
}

TEST(GroupsTest, ReferenceRule) {
  EXPECT_EQ(num_groups(8 * 512, 4096), 1);  // batch 8 at N = 512: one group of 4096
  EXPECT_EQ(num_groups(16 * 512, 4096), 2);
  EXPECT_EQ(num_groups(512, 4096), 1);       // batch 1: S = 512
  EXPECT_EQ(num_groups(20 * 512, 4096), 2);  // floor(2.5) = 2 divides: groups may exceed 4096
  EXPECT_EQ(num_groups(10, 3), 5);           // 3 does not divide 10, 4 neither, 5 does
  EXPECT_EQ(num_groups(7, 2), 7);            // prime token count
}

}  // namespace
}  // namespace smx::routing
