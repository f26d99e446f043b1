// add_layer_norm against fp64 ATen LayerNorm(x + residual): values and the gradients of x, the
// residual, scale and bias, for fp32 and bf16 inputs and widths with a vector tail; rows of the op
// table (op_table.h) on both kernel paths.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "ops/op_table.h"
#include "smx/ops/add_layer_norm.h"

namespace smx::ops {
namespace {

using smx::testing::fp64_leaf;
using smx::testing::OpOutput;
using smx::testing::Pass;

// LayerNorm(x + r) over rows of width D: values and the gradients of sum(y · w).
smx::testing::OpCase layer_norm_case(at::ScalarType x_type, int64_t D) {
  const bool bf16 = x_type == at::kBFloat16;
  return {
      "add_layer_norm", x_type, fmt::format("[3, 7, {}]", D), [=] {
        const at::Tensor x = (torch::randn({3, 7, D}) * 2 + 0.5).to(x_type).requires_grad_(true);
        const at::Tensor r = torch::randn({3, 7, D}).requires_grad_(true);
        const at::Tensor scale = (torch::rand({D}) + 0.5).requires_grad_(true);
        const at::Tensor bias = torch::randn({D}).requires_grad_(true);
        const at::Tensor w = torch::randn({3, 7, D});
        const at::Tensor x64 = fp64_leaf(x), r64 = fp64_leaf(r), s64 = fp64_leaf(scale),
                         b64 = fp64_leaf(bias);
        const at::Tensor ref = add_layer_norm_reference(x64, r64, s64, b64, 1e-12);
        (ref * w.to(at::kDouble)).sum().backward();

        const at::Tensor y = add_layer_norm(x, r, scale, bias, 1e-12);
        EXPECT_EQ(y.scalar_type(), at::kFloat);
        (y * w).sum().backward();
        return std::vector<OpOutput>{
            {"y", Pass::kForward, y, ref, 2e-5},
            {"dx", Pass::kBackward, x.grad(), x64.grad(), bf16 ? 3e-2 : 2e-5},
            {"dresid", Pass::kBackward, r.grad(), r64.grad(), 2e-5},
            {"dscale", Pass::kBackward, scale.grad(), s64.grad(), 1e-4},
            {"dbias", Pass::kBackward, bias.grad(), b64.grad(), 1e-4}};
      }};
}

TEST(AddLayerNormTest, MatchesFp64LayerNormWithGradients) {
  std::vector<smx::testing::OpCase> cases;
  for (const auto x_type : {at::kFloat, at::kBFloat16})
    for (const int64_t D : {24, 64, 512}) cases.push_back(layer_norm_case(x_type, D));
  smx::testing::run_op_table(cases, 2);
}

}  // namespace
}  // namespace smx::ops
