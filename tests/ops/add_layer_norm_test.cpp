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

// bf16 output (bf16 activations end to end, model/compute_weights.h): the output is the fp32
// result rounded once; the incoming gradient is bf16 and the input gradients are rounded once.
smx::testing::OpCase bf16_out_case(at::ScalarType x_type, int64_t D) {
  return {
      "add_layer_norm", at::kBFloat16, fmt::format("[3, 7, {}] bf16 out", D), [=] {
        const at::Tensor x = (torch::randn({3, 7, D}) * 2 + 0.5).to(x_type).requires_grad_(true);
        const at::Tensor r = torch::randn({3, 7, D}).to(at::kBFloat16).requires_grad_(true);
        const at::Tensor scale = (torch::rand({D}) + 0.5).requires_grad_(true);
        const at::Tensor bias = torch::randn({D}).requires_grad_(true);
        const at::Tensor w = torch::randn({3, 7, D}).to(at::kBFloat16);
        const at::Tensor x64 = fp64_leaf(x), r64 = fp64_leaf(r), s64 = fp64_leaf(scale),
                         b64 = fp64_leaf(bias);
        const at::Tensor ref = add_layer_norm_reference(x64, r64, s64, b64, 1e-12);
        (ref * w.to(at::kDouble)).sum().backward();

        const at::Tensor y = add_layer_norm(x, r, scale, bias, 1e-12, at::kBFloat16);
        EXPECT_EQ(y.scalar_type(), at::kBFloat16);
        (y * w).sum().backward();
        EXPECT_EQ(x.grad().scalar_type(), x_type);
        EXPECT_EQ(r.grad().scalar_type(), at::kBFloat16);
        // |y| stays below ~8 here: one bf16 rounding is at most 2^-8 · 8 = 3e-2.
        return std::vector<OpOutput>{{"y", Pass::kForward, y, ref, 3.2e-2},
                                     {"dx", Pass::kBackward, x.grad(), x64.grad(), 3e-2},
                                     {"dresid", Pass::kBackward, r.grad(), r64.grad(), 3e-2},
                                     {"dscale", Pass::kBackward, scale.grad(), s64.grad(), 1e-4},
                                     {"dbias", Pass::kBackward, bias.grad(), b64.grad(), 1e-4}};
      }};
}

TEST(AddLayerNormTest, Bf16OutputMatchesFp64WithinOneRounding) {
  std::vector<smx::testing::OpCase> cases;
  for (const auto x_type : {at::kFloat, at::kBFloat16})
    for (const int64_t D : {24, 512}) cases.push_back(bf16_out_case(x_type, D));
  smx::testing::run_op_table(cases, 3);
}

// Dropout of x inside the pass: against fp64 LN(x · keep / (1 - rate) + r) with the mask the
// kernel says it draws (dropout_keep_mask), values and gradients, on both kernel paths.
// rows = 3·n: n = 7 gives one row per parallel chunk, n = 40 several (simd::RowChunks).
smx::testing::OpCase dropout_case(at::ScalarType x_type, at::ScalarType out, int64_t D,
                                  int64_t n = 7) {
  return {
      "add_layer_norm", out, fmt::format("[3, {}, {}] dropout 0.25", n, D), [=] {
        const FusedDropout dropout{0.25, 0x123456789abcdefULL};
        const at::Tensor x = (torch::randn({3, n, D}) * 2 + 0.5).to(x_type).requires_grad_(true);
        const at::Tensor r = torch::randn({3, n, D}).to(out).requires_grad_(true);
        const at::Tensor scale = (torch::rand({D}) + 0.5).requires_grad_(true);
        const at::Tensor bias = torch::randn({D}).requires_grad_(true);
        const at::Tensor w = torch::randn({3, n, D}).to(out);
        const at::Tensor keep =
            dropout_keep_mask(dropout, x.numel()).view(x.sizes()).to(at::kDouble) / 0.75;
        const at::Tensor x64 = fp64_leaf(x), r64 = fp64_leaf(r), s64 = fp64_leaf(scale),
                         b64 = fp64_leaf(bias);
        const at::Tensor ref = add_layer_norm_reference(x64 * keep, r64, s64, b64, 1e-12);
        (ref * w.to(at::kDouble)).sum().backward();

        const at::Tensor y = add_layer_norm(x, r, scale, bias, 1e-12, out, dropout);
        (y * w).sum().backward();
        const double tol = out == at::kBFloat16 || x_type == at::kBFloat16 ? 4e-2 : 2e-5;
        return std::vector<OpOutput>{
            {"y", Pass::kForward, y, ref, out == at::kBFloat16 ? 3.2e-2 : 2e-5},
            {"dx", Pass::kBackward, x.grad(), x64.grad(), tol},
            {"dresid", Pass::kBackward, r.grad(), r64.grad(), tol},
            {"dscale", Pass::kBackward, scale.grad(), s64.grad(), 1e-4},
            {"dbias", Pass::kBackward, bias.grad(), b64.grad(), 1e-4}};
      }};
}

TEST(AddLayerNormTest, FusedDropoutMatchesFp64WithTheSameMask) {
  std::vector<smx::testing::OpCase> cases;
  cases.push_back(dropout_case(at::kFloat, at::kFloat, 24));
  cases.push_back(dropout_case(at::kFloat, at::kFloat, 512));
  cases.push_back(dropout_case(at::kBFloat16, at::kBFloat16, 512));
  cases.push_back(dropout_case(at::kFloat, at::kBFloat16, 40));
  cases.push_back(dropout_case(at::kBFloat16, at::kBFloat16, 32, 40));  // several rows per chunk
  smx::testing::run_op_table(cases, 4);
}

TEST(AddLayerNormTest, MatchesFp64LayerNormWithGradients) {
  std::vector<smx::testing::OpCase> cases;
  for (const auto x_type : {at::kFloat, at::kBFloat16})
    for (const int64_t D : {24, 64, 512}) cases.push_back(layer_norm_case(x_type, D));
  smx::testing::run_op_table(cases, 2);
}

}  // namespace
}  // namespace smx::ops
