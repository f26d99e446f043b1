// bias_gelu against the fp64 composition of ATen ops (forward, and gradients through autograd),
// for fp32 and bf16, a shared [F] bias and a per-expert [G, F] bias, widths with a vector tail;
// the rows of the op table (op_table.h) on both kernel paths.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "ops/kernel_paths.h"
#include "ops/op_table.h"
#include "smx/core/shape.h"
#include "smx/ops/bias_gelu.h"
#include "support/test_util.h"

namespace smx::ops {
namespace {

// One row group: gelu_tanh(x + b) against the fp64 composition of ATen ops, values and the
// gradients of sum(y · w) through autograd.
smx::testing::OpCase gelu_case(std::vector<int64_t> x_shape, std::vector<int64_t> bias_shape,
                               at::ScalarType dtype, double forward_tol, double backward_tol,
                               GeluKind kind = GeluKind::kTanh) {
  using smx::testing::Pass;
  const std::string shape = shape_string(x_shape) + " b" + shape_string(bias_shape);
  return {
      kind == GeluKind::kTanh ? "bias_gelu" : "bias_gelu_erf", dtype, shape, [=] {
        const at::Tensor x = (torch::randn(x_shape) * 3).to(dtype).requires_grad_(true);
        const at::Tensor b = torch::randn(bias_shape).requires_grad_(true);  // fp32, as the model's
        const at::Tensor w = torch::randn(x_shape);
        const at::Tensor x64 = smx::testing::fp64_leaf(x), b64 = smx::testing::fp64_leaf(b);
        const at::Tensor ref = bias_gelu_reference(x64, b64, kind);
        (ref * w.to(at::kDouble)).sum().backward();

        const at::Tensor y = bias_gelu(x, b, kind);
        EXPECT_EQ(y.scalar_type(), dtype);
        (y.to(at::kFloat) * w).sum().backward();
        // bf16 outputs are compared relative to their magnitude (one rounding of 2^-8).
        const double scale = dtype == at::kBFloat16 ? 1.0 + ref.abs().max().item<double>() : 1.0;
        // The bias gradient sums rows: its error grows with their number.
        const double rows = static_cast<double>(x.numel() / b.numel());
        return std::vector<smx::testing::OpOutput>{
            {"y", Pass::kForward, y, ref.detach(), forward_tol * scale},
            {"dx", Pass::kBackward, x.grad(), x64.grad(), backward_tol * scale},
            {"dbias", Pass::kBackward, b.grad(), b64.grad(), backward_tol * scale * rows}};
      }};
}

TEST(BiasGeluTest, MatchesTheFp64ReferenceWithGradients) {
  smx::testing::run_op_table({
      gelu_case({6, 37}, {37}, at::kFloat, 2e-6, 1e-5),        // tail of 5 lanes
      gelu_case({3, 5, 64}, {64}, at::kFloat, 2e-6, 1e-5),     // [B, N, F]
      gelu_case({4, 7, 48}, {4, 48}, at::kFloat, 2e-6, 1e-5),  // per-expert bias [E, M, F]
      gelu_case({6, 37}, {37}, at::kBFloat16, 2e-2, 3e-2),     // bf16 in, fp32 math, bf16 out
      gelu_case({4, 7, 48}, {4, 48}, at::kBFloat16, 2e-2, 3e-2),
  });
}

// The exact (erf) GELU of Hugging Face BERT's "gelu": the same table against at::gelu(v, "none").
TEST(BiasGeluTest, ExactErfGeluMatchesTheFp64ReferenceWithGradients) {
  const GeluKind erf = GeluKind::kErf;
  smx::testing::run_op_table({
      gelu_case({6, 37}, {37}, at::kFloat, 2e-6, 1e-5, erf),
      gelu_case({3, 5, 64}, {64}, at::kFloat, 2e-6, 1e-5, erf),
      gelu_case({4, 7, 48}, {4, 48}, at::kFloat, 2e-6, 1e-5, erf),
      gelu_case({6, 37}, {37}, at::kBFloat16, 2e-2, 3e-2, erf),
      gelu_case({4, 7, 48}, {4, 48}, at::kBFloat16, 2e-2, 3e-2, erf),
  });
}

// The two kinds differ by up to ~5e-4 near |v| = 2: a kernel computing the wrong one fails here.
TEST(BiasGeluTest, ErfAndTanhKindsAreDifferentFunctions) {
  const at::Tensor x = torch::linspace(-4, 4, 81);
  const at::Tensor b = torch::zeros({81});
  for (const auto& path : smx::testing::kernel_paths()) {
    smx::testing::UseKernelPath use(path);
    const at::Tensor erf = bias_gelu(x, b, GeluKind::kErf);
    const at::Tensor tanh = bias_gelu(x, b, GeluKind::kTanh);
    const double exact_gap = smx::testing::max_abs_diff(erf, at::gelu(x.to(at::kDouble), "none"));
    const double kind_gap = smx::testing::max_abs_diff(erf, tanh);
    std::printf("    %s: erf vs exact %.3e, erf vs tanh %.3e\n", path.name.c_str(), exact_gap,
                kind_gap);
    EXPECT_LE(exact_gap, 1e-6);
    EXPECT_GE(kind_gap, 1e-4);
  }
}

TEST(BiasGeluTest, ExtremeInputsStayFinite) {
  for (const GeluKind kind : {GeluKind::kTanh, GeluKind::kErf})
    smx::testing::run_op_table({{kind == GeluKind::kTanh ? "bias_gelu" : "bias_gelu_erf",
                                 at::kFloat, "extremes [7]", [kind] {
                                   const at::Tensor x = torch::tensor(
                                       {-1e30f, -500.0f, -20.0f, 0.0f, 20.0f, 500.0f, 1e30f});
                                   const at::Tensor y = bias_gelu(x, torch::zeros({7}), kind);
                                   EXPECT_TRUE(y.isfinite().all().item<bool>());
                                   const at::Tensor want = torch::tensor(
                                       {-0.0f, -0.0f, -0.0f, 0.0f, 20.0f, 500.0f, 1e30f});
                                   return std::vector<smx::testing::OpOutput>{
                                       {"y", smx::testing::Pass::kForward, y, want, 1e-6}};
                                 }}});
}

}  // namespace
}  // namespace smx::ops
