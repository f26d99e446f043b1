// The op profiler behind `smx bench --profile`: calls and self time per op, matrix products by
// shape with their FLOPs, and element-wise passes (copies, fills, adds) charged to the op that
// asked for them; an autocast product
// (a wrapper range around the kernel's, both named aten::addmm) counts as one call.
#include <algorithm>

#include <ATen/record_function.h>
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

TEST(OpProfileTest, CountsCallsGemmShapesAndPassCallers) {
  const at::Tensor a = torch::randn({64, 32}), b = torch::randn({32, 16});
  const at::Tensor bias = torch::randn({16});
  const OpProfile p = profile_ops([&] {
    for (int i = 0; i < 3; ++i) at::mm(a, b);
    const AutocastScope bf16(true, at::kCPU);
    at::addmm(bias, a, b);  // casts its fp32 operands: copies under aten::addmm
    RECORD_FUNCTION("test::caller", std::vector<c10::IValue>());
    at::Tensor z = at::zeros({8, 4});  // a zero_ under test::caller
    z.add_(1.0);
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

  const bool copy_under_addmm = std::any_of(p.passes.begin(), p.passes.end(), [](const OpTime& t) {
    return t.name.rfind("aten::addmm <- aten::copy_ [", 0) == 0;
  });
  EXPECT_TRUE(copy_under_addmm) << "the bf16 casts are charged to aten::addmm";
  const OpTime* fill = find(p.passes, "test::caller <- aten::zero_ [8, 4]");
  ASSERT_NE(fill, nullptr) << "a fill is charged to the range around it:\n"
                           << format_op_profile(p, 10, "  ");
  EXPECT_EQ(fill->calls, 1);
  const OpTime* add = find(p.passes, "test::caller <- aten::add_ [8, 4]");
  ASSERT_NE(add, nullptr);
  EXPECT_EQ(add->calls, 1) << "add_'s dispatcher range and its kernel's are one call";
  const std::string table = format_op_profile(p, 10, "  ");
  EXPECT_NE(table.find("matrix products by shape"), std::string::npos) << table;
  EXPECT_NE(table.find("element-wise passes"), std::string::npos) << table;
}

}  // namespace
}  // namespace smx::bench
