// softmax_last_dim against fp64 ATen softmax, values and gradients, fp32 and bf16, row lengths
// with a vector tail, and rows of equal (masked) logits; rows of the op table (op_table.h) on both
// kernel paths.
#include <limits>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "ops/op_table.h"
#include "smx/ops/softmax.h"

namespace smx::ops {
namespace {

using smx::testing::OpOutput;
using smx::testing::Pass;

// Softmax over rows of K logits, values and the gradient of sum(p · w).
smx::testing::OpCase softmax_case(at::ScalarType dtype, int64_t K) {
  const bool bf16 = dtype == at::kBFloat16;
  return {"softmax_last_dim", dtype, fmt::format("[2, 3, 5, {}]", K), [=] {
            const at::Tensor x = (torch::randn({2, 3, 5, K}) * 4).to(dtype).requires_grad_(true);
            const at::Tensor w = torch::randn({2, 3, 5, K});
            const at::Tensor x64 = smx::testing::fp64_leaf(x);
            const at::Tensor ref = at::softmax(x64, -1);
            (ref * w.to(at::kDouble)).sum().backward();
            const at::Tensor y = softmax_last_dim(x);
            EXPECT_EQ(y.scalar_type(), dtype);
            (y.to(at::kFloat) * w).sum().backward();
            return std::vector<OpOutput>{
                {"p", Pass::kForward, y, ref, bf16 ? 4e-3 : 1e-6},
                {"dx", Pass::kBackward, x.grad(), x64.grad(), bf16 ? 3e-2 : 3e-6}};
          }};
}

TEST(SoftmaxTest, MatchesFp64SoftmaxWithGradients) {
  std::vector<smx::testing::OpCase> cases;
  for (const auto dtype : {at::kFloat, at::kBFloat16})
    for (const int64_t K : {7, 16, 100, 512}) cases.push_back(softmax_case(dtype, K));
  smx::testing::run_op_table(cases, 1);
}

TEST(SoftmaxTest, EqualLogitsGiveUniformRows) {
  // A fully masked attention row holds one value everywhere: it must attend uniformly, not NaN.
  smx::testing::run_op_table(
      {{"softmax_last_dim", at::kFloat, "lowest [2, 33]", [] {
          const at::Tensor x = torch::full({2, 33}, std::numeric_limits<float>::lowest());
          return std::vector<OpOutput>{
              {"p", Pass::kForward, softmax_last_dim(x), torch::full({2, 33}, 1.0 / 33), 1e-7}};
        }}});
}

}  // namespace
}  // namespace smx::ops
