// add_layer_norm against fp64 ATen LayerNorm(x + residual): values and the gradients of x, the
// residual, scale and bias, for fp32 and bf16 inputs and widths with a vector tail.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "ops/kernel_paths.h"
#include "smx/ops/add_layer_norm.h"
#include "support/test_util.h"

namespace smx::ops {
namespace {

TEST(AddLayerNormTest, MatchesFp64LayerNormWithGradients) {
  for (const auto& path : smx::testing::kernel_paths()) {
    smx::testing::UseKernelPath use(path);
    std::printf("    -- %s path\n", path.name.c_str());
    torch::manual_seed(2);
    for (const auto x_type : {at::kFloat, at::kBFloat16}) {
      for (const int64_t D : {24, 64, 512}) {
        const at::Tensor x = (torch::randn({3, 7, D}) * 2 + 0.5).to(x_type).requires_grad_(true);
        const at::Tensor r = torch::randn({3, 7, D}).requires_grad_(true);
        const at::Tensor scale = (torch::rand({D}) + 0.5).requires_grad_(true);
        const at::Tensor bias = torch::randn({D}).requires_grad_(true);
        const at::Tensor w = torch::randn({3, 7, D});
        auto f64 = [](const at::Tensor& t) {
          return t.to(at::kDouble).detach().requires_grad_(true);
        };
        const at::Tensor x64 = f64(x), r64 = f64(r), s64 = f64(scale), b64 = f64(bias);
        const at::Tensor ref = add_layer_norm_reference(x64, r64, s64, b64, 1e-12);
        (ref * w.to(at::kDouble)).sum().backward();

        const at::Tensor y = add_layer_norm(x, r, scale, bias, 1e-12);
        EXPECT_EQ(y.scalar_type(), at::kFloat);
        (y * w).sum().backward();
        const bool bf16 = x_type == at::kBFloat16;
        const std::string label = fmt::format("x {} D={}", c10::toString(x_type), D);
        smx::testing::expect_close(y.to(at::kDouble), ref, 2e-5, label + " y");
        smx::testing::expect_close(x.grad().to(at::kDouble), x64.grad(), bf16 ? 3e-2 : 2e-5,
                                   label + " dx");
        smx::testing::expect_close(r.grad().to(at::kDouble), r64.grad(), 2e-5,
                                   label + " dresidual");
        smx::testing::expect_close(scale.grad().to(at::kDouble), s64.grad(), 1e-4,
                                   label + " dscale");
        smx::testing::expect_close(bias.grad().to(at::kDouble), b64.grad(), 1e-4, label + " dbias");
      }
    }
  }
}

}  // namespace
}  // namespace smx::ops
