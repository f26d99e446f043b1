// compute_weight: the master itself without autocast or with the switch off; under bf16 autocast a
// bf16 copy equal to master.to(bf16), the same tensor on every call, refreshed after another write
// to the master, receiving the gradient; copies never appear among the parameters; folding moves
// their gradients onto the masters in fp32.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "smx/core/autocast.h"
#include "smx/model/compute_weights.h"
#include "smx/model/dense.h"

namespace smx::model {
namespace compute_weights_test {

TEST(ComputeWeightsTest, MasterItselfWithoutBf16Autocast) {
  Dense dense(8, 4);
  EXPECT_TRUE(compute_weight(dense.kernel).is_same(dense.kernel));
  set_bf16_end_to_end(false);
  {
    AutocastScope autocast(true, at::kCPU);
    EXPECT_TRUE(compute_weight(dense.kernel).is_same(dense.kernel));
    EXPECT_FALSE(bf16_activations(dense.kernel));
  }
  set_bf16_end_to_end(true);
  EXPECT_FALSE(weight_copy(dense.kernel).defined());
}

TEST(ComputeWeightsTest, Bf16CopyFollowsTheMasterAndTakesTheGradient) {
  torch::manual_seed(1);
  Dense dense(8, 4);
  const at::Tensor x = torch::randn({3, 8});
  at::Tensor copy;
  {
    AutocastScope autocast(true, at::kCPU);
    EXPECT_TRUE(bf16_activations(x));
    copy = compute_weight(dense.kernel);
    EXPECT_EQ(copy.scalar_type(), at::kBFloat16);
    EXPECT_TRUE(copy.requires_grad());
    EXPECT_TRUE(at::equal(copy, dense.kernel.to(at::kBFloat16)));
    EXPECT_TRUE(compute_weight(dense.kernel).is_same(copy));  // one copy, not a cast per call
    dense.forward(x).to(at::kFloat).sum().backward();
  }
  // The gradient is on the copy (bf16), as autocast's cast would give it; the master has none.
  ASSERT_TRUE(copy.grad().defined());
  EXPECT_EQ(copy.grad().scalar_type(), at::kBFloat16);
  EXPECT_FALSE(dense.kernel.grad().defined());
  const at::Tensor want = x.to(at::kBFloat16).to(at::kFloat).sum(0).unsqueeze(1).expand({8, 4});
  const double diff = (copy.grad().to(at::kFloat) - want).abs().max().item<double>();
  std::printf("    copy gradient vs x^T . 1: max|diff| = %.2e\n", diff);
  EXPECT_LT(diff, 5e-2);

  // Folding: the gradient moves onto the master in fp32.
  fold_weight_copy_grads(dense);
  ASSERT_TRUE(dense.kernel.grad().defined());
  EXPECT_EQ(dense.kernel.grad().scalar_type(), at::kFloat);
  EXPECT_FALSE(copy.grad().defined());
  EXPECT_LT((dense.kernel.grad() - want).abs().max().item<double>(), 5e-2);

  // Another in-place write to the master (a weights load) reaches the copy on its next use.
  {
    torch::NoGradGuard no_grad;
    dense.kernel.copy_(torch::randn({8, 4}));
  }
  {
    AutocastScope autocast(true, at::kCPU);
    EXPECT_TRUE(compute_weight(dense.kernel).is_same(copy));
    EXPECT_TRUE(at::equal(copy, dense.kernel.to(at::kBFloat16)));
  }
  // Not a parameter: weight files and checkpoints hold the fp32 masters only.
  for (const auto& p : dense.named_parameters()) EXPECT_EQ(p.value().scalar_type(), at::kFloat);
  EXPECT_EQ(dense.parameters().size(), 2u);
}

TEST(ComputeWeightsTest, CopiesDieWithTheirMasters) {
  const size_t before = weight_copy_count();
  {
    Dense dense(16, 16);
    AutocastScope autocast(true, at::kCPU);
    compute_weight(dense.kernel);
    compute_weight(dense.bias);
    EXPECT_EQ(weight_copy_count(), before + 2);
    drop_weight_copies({dense.bias});
    EXPECT_EQ(weight_copy_count(), before + 1);
  }
  EXPECT_EQ(weight_copy_count(), before);
}

TEST(ComputeWeightsTest, LayerNormWritesBf16OnlyUnderBf16EndToEnd) {
  LayerNorm norm(32);
  const at::Tensor x = torch::randn({2, 5, 32}), r = torch::randn({2, 5, 32});
  EXPECT_EQ(norm.forward(x, r).scalar_type(), at::kFloat);
  AutocastScope autocast(true, at::kCPU);
  const at::Tensor y = norm.forward(x, r);
  EXPECT_EQ(y.scalar_type(), at::kBFloat16);
  set_bf16_end_to_end(false);
  const at::Tensor y32 = norm.forward(x, r);
  set_bf16_end_to_end(true);
  EXPECT_EQ(y32.scalar_type(), at::kFloat);
  EXPECT_TRUE(at::equal(y, y32.to(at::kBFloat16)));  // the same fp32 result, rounded once
}

}  // namespace compute_weights_test
}  // namespace smx::model
