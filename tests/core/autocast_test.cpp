// AutocastScope: bf16 autocast inside the scope (a matmul of fp32 inputs comes out bf16), fp32
// outside it and after it, nothing at all when disabled, and nested scopes restore the outer one.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "smx/core/autocast.h"
#include "smx/core/torch_compat.h"

namespace smx {
namespace {

at::ScalarType matmul_dtype() {
  return at::matmul(torch::ones({2, 3}), torch::ones({3, 2})).scalar_type();
}

TEST(AutocastScopeTest, Bf16InsideFp32Outside) {
  const at::Device cpu(at::kCPU);
  EXPECT_EQ(matmul_dtype(), at::kFloat);
  {
    AutocastScope scope(true, cpu);
    EXPECT_TRUE(compat::autocast_enabled(at::kCPU));
    EXPECT_EQ(matmul_dtype(), at::kBFloat16);
  }
  EXPECT_FALSE(compat::autocast_enabled(at::kCPU));
  EXPECT_EQ(matmul_dtype(), at::kFloat);
}

TEST(AutocastScopeTest, DisabledScopeChangesNothing) {
  const at::Device cpu(at::kCPU);
  {
    AutocastScope scope(false, cpu);
    EXPECT_FALSE(compat::autocast_enabled(at::kCPU));
    EXPECT_EQ(matmul_dtype(), at::kFloat);
  }
  EXPECT_FALSE(compat::autocast_enabled(at::kCPU));
}

TEST(AutocastScopeTest, NestedScopesRestoreTheOuterState) {
  const at::Device cpu(at::kCPU);
  {
    AutocastScope outer(true, cpu, AutocastCache::kKeep);
    {
      AutocastScope inner(true, cpu);
      EXPECT_EQ(matmul_dtype(), at::kBFloat16);
    }
    EXPECT_TRUE(compat::autocast_enabled(at::kCPU)) << "the inner scope's exit kept the outer on";
    EXPECT_EQ(matmul_dtype(), at::kBFloat16);
  }
  EXPECT_FALSE(compat::autocast_enabled(at::kCPU));
  EXPECT_EQ(matmul_dtype(), at::kFloat);
}

}  // namespace
}  // namespace smx
