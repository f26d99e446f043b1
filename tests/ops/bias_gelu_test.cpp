// bias_gelu against the fp64 composition of ATen ops (forward, and gradients through autograd),
// for fp32 and bf16, a shared [F] bias and a per-expert [G, F] bias, widths with a vector tail.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "ops/kernel_paths.h"
#include "smx/core/shape.h"
#include "smx/ops/bias_gelu.h"
#include "support/test_util.h"

namespace smx::ops {
namespace {

struct Case {
  std::vector<int64_t> x_shape, bias_shape;
  at::ScalarType dtype;
  double forward_tol, backward_tol;
};

// The fp64 reference: values and gradients of sum(gelu_tanh(x + b) · w).
struct Reference {
  at::Tensor y, gx, gb;
};

Reference reference(const at::Tensor& x, const at::Tensor& b, const at::Tensor& w) {
  const at::Tensor x64 = x.to(at::kDouble).detach().requires_grad_(true);
  const at::Tensor b64 = b.to(at::kDouble).detach().requires_grad_(true);
  const at::Tensor y = bias_gelu_reference(x64, b64);
  (y * w.to(at::kDouble)).sum().backward();
  return {y.detach(), x64.grad(), b64.grad()};
}

TEST(BiasGeluTest, MatchesTheFp64ReferenceWithGradients) {
  for (const auto& path : smx::testing::kernel_paths()) {
    smx::testing::UseKernelPath use(path);
    std::printf("    -- %s path\n", path.name.c_str());
    const std::vector<Case> cases = {
        {{6, 37}, {37}, at::kFloat, 2e-6, 1e-5},        // tail of 5 lanes
        {{3, 5, 64}, {64}, at::kFloat, 2e-6, 1e-5},     // [B, N, F]
        {{4, 7, 48}, {4, 48}, at::kFloat, 2e-6, 1e-5},  // per-expert bias [E, M, F]
        {{6, 37}, {37}, at::kBFloat16, 2e-2, 3e-2},     // bf16 in, fp32 math, bf16 out
        {{4, 7, 48}, {4, 48}, at::kBFloat16, 2e-2, 3e-2},
    };
    torch::manual_seed(0);
    for (const Case& c : cases) {
      const at::Tensor x = (torch::randn(c.x_shape) * 3).to(c.dtype).requires_grad_(true);
      const at::Tensor b = torch::randn(c.bias_shape).requires_grad_(true);  // fp32, as the model's
      const at::Tensor w = torch::randn(c.x_shape);
      const Reference ref = reference(x, b, w);
      const at::Tensor y = bias_gelu(x, b);
      EXPECT_EQ(y.scalar_type(), c.dtype);
      EXPECT_EQ(y.sizes(), x.sizes());
      (y.to(at::kFloat) * w).sum().backward();
      const std::string label = fmt::format("{} x {} bias {}", c10::toString(c.dtype),
                                            shape_string(c.x_shape), shape_string(c.bias_shape));
      // bf16 outputs are compared relative to their magnitude (one rounding of 2^-8).
      const double scale = c.dtype == at::kBFloat16 ? 1.0 + ref.y.abs().max().item<double>() : 1.0;
      smx::testing::expect_close(y.to(at::kDouble), ref.y, c.forward_tol * scale, label + " y");
      smx::testing::expect_close(x.grad().to(at::kDouble), ref.gx, c.backward_tol * scale,
                                 label + " dx");
      // The bias gradient sums rows: its error grows with their number.
      const double rows = static_cast<double>(x.numel() / b.numel());
      smx::testing::expect_close(b.grad().to(at::kDouble), ref.gb, c.backward_tol * scale * rows,
                                 label + " dbias");
    }
  }
}

TEST(BiasGeluTest, ExtremeInputsStayFinite) {
  for (const auto& path : smx::testing::kernel_paths()) {
    smx::testing::UseKernelPath use(path);
    std::printf("    -- %s path\n", path.name.c_str());
    const at::Tensor x = torch::tensor({-1e30f, -500.0f, -20.0f, 0.0f, 20.0f, 500.0f, 1e30f});
    const at::Tensor b = torch::zeros({7});
    const at::Tensor y = bias_gelu(x, b);
    const at::Tensor expected = torch::tensor({-0.0f, -0.0f, -0.0f, 0.0f, 20.0f, 500.0f, 1e30f});
    smx::testing::expect_close(y, expected, 1e-6, "gelu at the extremes");
    EXPECT_TRUE(y.isfinite().all().item<bool>());
  }
}

}  // namespace
}  // namespace smx::ops
