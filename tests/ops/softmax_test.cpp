// softmax_last_dim against fp64 ATen softmax, values and gradients, fp32 and bf16, row lengths
// with a vector tail, and rows of equal (masked) logits.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "ops/kernel_paths.h"
#include "smx/ops/softmax.h"
#include "support/test_util.h"

namespace smx::ops {
namespace {

TEST(SoftmaxTest, MatchesFp64SoftmaxWithGradients) {
  for (const auto& path : smx::testing::kernel_paths()) {
    smx::testing::UseKernelPath use(path);
    std::printf("    -- %s path\n", path.name.c_str());
    torch::manual_seed(1);
    for (const auto dtype : {at::kFloat, at::kBFloat16}) {
      for (const int64_t K : {7, 16, 100, 512}) {
        const at::Tensor x = (torch::randn({2, 3, 5, K}) * 4).to(dtype).requires_grad_(true);
        const at::Tensor w = torch::randn({2, 3, 5, K});
        const at::Tensor x64 = x.to(at::kDouble).detach().requires_grad_(true);
        const at::Tensor ref = at::softmax(x64, -1);
        (ref * w.to(at::kDouble)).sum().backward();
        const at::Tensor y = softmax_last_dim(x);
        EXPECT_EQ(y.scalar_type(), dtype);
        (y.to(at::kFloat) * w).sum().backward();
        const bool bf16 = dtype == at::kBFloat16;
        const std::string label = fmt::format("{} K={}", c10::toString(dtype), K);
        smx::testing::expect_close(y.to(at::kDouble), ref, bf16 ? 4e-3 : 1e-6, label + " p");
        smx::testing::expect_close(x.grad().to(at::kDouble), x64.grad(), bf16 ? 3e-2 : 3e-6,
                                   label + " dx");
      }
    }
  }
}

TEST(SoftmaxTest, EqualLogitsGiveUniformRows) {
  for (const auto& path : smx::testing::kernel_paths()) {
    smx::testing::UseKernelPath use(path);
    std::printf("    -- %s path\n", path.name.c_str());
    // A fully masked attention row holds one value everywhere: it must attend uniformly, not NaN.
    const at::Tensor x = torch::full({2, 33}, std::numeric_limits<float>::lowest());
    smx::testing::expect_close(softmax_last_dim(x), torch::full({2, 33}, 1.0 / 33), 1e-7,
                               "uniform row");
  }
}

}  // namespace
}  // namespace smx::ops
