// The op profiler behind `smx bench --profile`: calls and self time per op, matrix products by
// shape with their FLOPs, and copies charged to the op that asked for them; an autocast product
// (a wrapper range around the kernel's, both named aten::addmm) counts as one call.
#include <algorithm>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "smx/bench/op_profile.h"
#include "smx/core/autocast.h"

namespace smx::bench {
namespace {

const OpTime* find(const std::vector<OpTime>& rows, const std::string& name) {
  const auto it =
      std::find_if(rows.begin(), rows.end(), [&](const OpTime& t) { return t.name == name; });
  return it == rows.end() ? nullptr : &*it;
}

TEST(OpProfileTest, CountsCallsGemmShapesAndCopyCallers) {
  const at::Tensor a = torch::randn({64, 32}), b = torch::randn({32, 16});
  const at::Tensor bias = torch::randn({16});
  const OpProfile p = profile_ops([&] {
    for (int i = 0; i < 3; ++i) at::mm(a, b);
    const AutocastScope bf16(true, at::kCPU);
    at::addmm(bias, a, b);  // casts its fp32 operands: copies under aten::addmm
  });
  const OpTime* mm = find(p.ops, "aten::mm");
  ASSERT_NE(mm, nullptr);
  EXPECT_EQ(mm->calls, 3);
  const OpTime* addmm = find(p.ops, "aten::addmm");
  ASSERT_NE(addmm, nullptr);
  EXPECT_EQ(addmm->calls, 1) << "autocast's wrapper and the kernel are one call";

  const OpTime* mm_shape = find(p.gemms, "aten::mm [64, 32] x [32, 16]");
  ASSERT_NE(mm_shape, nullptr);
  EXPECT_EQ(mm_shape->calls, 3);
  EXPECT_DOUBLE_EQ(mm_shape->gflop, 3 * 2.0 * 64 * 32 * 16 / 1e9);
  const OpTime* addmm_shape = find(p.gemms, "aten::addmm [64, 32] x [32, 16]");
  ASSERT_NE(addmm_shape, nullptr);
  EXPECT_EQ(addmm_shape->calls, 1);
  EXPECT_DOUBLE_EQ(addmm_shape->gflop, 2.0 * 64 * 32 * 16 / 1e9);

  const bool copy_under_addmm = std::any_of(p.copies.begin(), p.copies.end(), [](const OpTime& t) {
    return t.name.rfind("aten::addmm [", 0) == 0;
  });
  EXPECT_TRUE(copy_under_addmm) << "the bf16 casts are charged to aten::addmm";
  const std::string table = format_op_profile(p, 10, "  ");
  EXPECT_NE(table.find("matrix products by shape"), std::string::npos) << table;
  EXPECT_NE(table.find("aten::copy_ by the op that asked for it"), std::string::npos) << table;
}

}  // namespace
}  // namespace smx::bench
