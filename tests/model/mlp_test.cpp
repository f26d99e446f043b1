// The dense MLP's CPU inference over row tiles (more rows than one tile, the last tile partial)
// against the same MLP run whole, fp32 and bf16 (autocast, bf16 activations).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "ops/simd.h"
#include "smx/bench/op_profile.h"
#include "smx/core/autocast.h"
#include "smx/model/mlp.h"
#include "smx/ops/cpu_matmul.h"
#include "support/test_util.h"

namespace smx::model {
namespace {

// The MLP's output with gradients recorded (one pass over all rows) and under no_grad (row
// tiles wherever the tiled path applies).
std::pair<at::Tensor, at::Tensor> whole_and_tiled(const Mlp& mlp, const at::Tensor& x) {
  const at::Tensor whole = mlp.forward(x).detach();
  torch::NoGradGuard no_grad;
  return {whole, mlp.forward(x)};
}

TEST(MlpTest, RowTilesMatchTheWholeProduct) {
  torch::manual_seed(11);
  Mlp mlp(32, 128, 0.1);
  {
    torch::NoGradGuard no_grad;
    mlp.intermediate->bias.normal_();
    mlp.output->bias.normal_();
  }
  const at::Tensor x = torch::randn({3, 900, 32});  // 2700 rows: tiles of 1024, 1024, 652
  at::Tensor whole, tiled;
  const bench::OpProfile profile =
      bench::profile_ops([&] { std::tie(whole, tiled) = whole_and_tiled(mlp, x); });
  // Both products of each of the 3 tiles went through oneDNN (where this build and CPU have it).
  if (ops::cpu_matmul_built() && ops::simd::cpu_has_avx512()) {
    int64_t products = 0;
    for (const bench::OpTime& op : profile.ops)
      if (op.name == "smx::cpu_matmul") products += op.calls;
    EXPECT_EQ(products, 6);
  }
  ASSERT_EQ(tiled.sizes(), x.sizes());
  smx::testing::expect_close(tiled, whole, 1e-5, "fp32, 2700 rows");
  {
    const AutocastScope bf16(true, at::kCPU);
    auto [whole_bf16, tiled_bf16] = whole_and_tiled(mlp, x.to(at::kBFloat16));
    EXPECT_EQ(tiled_bf16.scalar_type(), whole_bf16.scalar_type());
    // The same products and roundings, tile by tile: within one bf16 rounding of the output.
    smx::testing::expect_close(tiled_bf16.to(at::kFloat), whole_bf16.to(at::kFloat),
                               3e-2 * (1.0 + whole_bf16.abs().max().item<double>()),
                               "bf16, 2700 rows");
  }
}

}  // namespace
}  // namespace smx::model
