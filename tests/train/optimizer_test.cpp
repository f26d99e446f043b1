#include <cmath>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "smx/core/autocast.h"
#include "smx/model/compute_weights.h"
#include "smx/train/adamw.h"
#include "smx/train/lr_schedule.h"

namespace smx::train {
namespace {

TEST(LearningRateTest, WarmupThenLinearDecay) {
  EXPECT_DOUBLE_EQ(learning_rate(1e-4, 0, 10, 110), 0.0);
  EXPECT_DOUBLE_EQ(learning_rate(1e-4, 5, 10, 110), 0.5e-4);
  EXPECT_DOUBLE_EQ(learning_rate(1e-4, 10, 10, 110), 1e-4);
  EXPECT_DOUBLE_EQ(learning_rate(1e-4, 60, 10, 110), 0.5e-4);
  EXPECT_DOUBLE_EQ(learning_rate(1e-4, 110, 10, 110), 0.0);
  EXPECT_DOUBLE_EQ(learning_rate(2.0, 3, 0, 4), 0.5);  // no warmup
}

struct One : torch::nn::Module {
  One() { w = register_parameter("w", torch::tensor({1.0, -2.0, 3.0}, torch::kDouble)); }
  at::Tensor w;
};

TEST(AdamWTest, MatchesTheOptaxFormulaWithDecoupledDecay) {
  One module;
  AdamW opt(module, {0.9, 0.999, 1e-6, 0.01});
  const at::Tensor g1 = torch::tensor({0.5, 0.1, -1.0}, torch::kDouble);
  const at::Tensor g2 = torch::tensor({-0.2, 0.3, 0.4}, torch::kDouble);
  at::Tensor w = module.w.detach().clone(), m = torch::zeros_like(w), v = torch::zeros_like(w);
  const double lr = 0.1;
  int t = 0;
  for (const auto& g : {g1, g2}) {
    module.w.mutable_grad() = g.clone();
    opt.step(lr);
    ++t;
    m = 0.9 * m + 0.1 * g;
    v = 0.999 * v + 0.001 * g * g;
    const at::Tensor update =
        (m / (1 - std::pow(0.9, t))) / ((v / (1 - std::pow(0.999, t))).sqrt() + 1e-6);
    w = w - lr * (update + 0.01 * w);
  }
  const double diff = (module.w - w).abs().max().item<double>();
  std::printf("    adamw vs formula: max |diff| = %.3e\n", diff);
  EXPECT_LT(diff, 1e-12);
  EXPECT_EQ(opt.steps(), 2);

  // State round trip restores the moments exactly.
  One other;
  AdamW restored(other, {});
  restored.load_state(opt.state(), "memory");
  EXPECT_EQ(restored.steps(), 2);
  EXPECT_TRUE(torch::equal(restored.state()[1].tensor, opt.state()[1].tensor));
}

TEST(AdamWTest, ClipGradNormScalesToTheLimit) {
  One module;
  module.w.mutable_grad() = torch::tensor({3.0, 4.0, 0.0}, torch::kDouble);
  EXPECT_NEAR(clip_grad_norm(module, 1.0), 5.0, 1e-9);
  EXPECT_NEAR(module.w.grad().norm().item<double>(), 1.0, 1e-5);
}

TEST(AdamWTest, ClipGradNormAddsAWeightsOwnAndCopiedGradientsFirst) {
  // A tied weight used through its lookup (own gradient) and its bf16 copy (copied gradient): the
  // norm is that of their sum, and both parts scale by the same factor.
  struct Tied : torch::nn::Module {
    Tied() { w = register_parameter("w", torch::tensor({1.0f, 2.0f, 3.0f})); }
    at::Tensor w;
  } module;
  at::Tensor copy;
  {
    const AutocastScope bf16(true, at::kCPU);
    copy = model::compute_weight(module.w);
  }
  ASSERT_TRUE(copy.defined());
  ASSERT_EQ(copy.scalar_type(), at::kBFloat16);
  module.w.mutable_grad() = torch::tensor({3.0f, 0.0f, 1.0f});
  copy.mutable_grad() = torch::tensor({0.0f, 4.0f, -1.0f}).to(at::kBFloat16);
  // Sum (3, 4, 0): norm 5, where the two parts' norms would give √(10 + 17).
  EXPECT_NEAR(clip_grad_norm(module, 1.0), 5.0, 1e-6);
  const at::Tensor sum = module.w.grad() + copy.grad().to(at::kFloat);
  EXPECT_NEAR(sum.norm().item<double>(), 1.0, 1e-2);  // bf16 part rounded
  model::drop_weight_copies({module.w});
}

}  // namespace
}  // namespace smx::train
