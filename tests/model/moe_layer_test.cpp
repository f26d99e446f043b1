// The index-dispatch MoE layer against a dense one-hot oracle written straight from docs/design.md
// §2.3: out_t = Σ_e Σ_c [t(e,c) = t] · p[t,e] · FFN_e(x_t).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "smx/core/autocast.h"
#include "smx/model/moe_layer.h"
#include "smx/routing/capacity.h"
#include "support/test_util.h"

namespace smx::model {
namespace {

at::Tensor expert_ffn(const MoeLayer& moe, int64_t e, const at::Tensor& x) {
  const at::Tensor h =
      at::gelu(at::matmul(x, moe.intermediate_kernel[e]) + moe.intermediate_bias[e], "tanh");
  return at::matmul(h, moe.output_kernel[e]) + moe.output_bias[e];
}

// Experts-choose with every expert applied to every token, masked by a one-hot selection.
at::Tensor oracle(const MoeLayer& moe, const at::Tensor& x, int64_t group_size, double cf,
                  int64_t min_capacity) {
  const int64_t D = x.size(2), E = moe.output_bias.size(0);
  const at::Tensor tokens = x.reshape({-1, D});
  const int64_t T = tokens.size(0), G = routing::num_groups(T, group_size), S = T / G;
  const at::Tensor probs = at::softmax(moe.router->forward(tokens), -1).view({G, S, E});
  const int64_t C = routing::expert_capacity(cf, S, E, min_capacity);
  at::Tensor out = torch::zeros_like(tokens);
  for (int64_t g = 0; g < G; ++g)
    for (int64_t e = 0; e < E; ++e) {
      const at::Tensor top = std::get<1>(probs[g].select(1, e).sort(true, 0, true)).narrow(0, 0, C);
      at::Tensor selected = torch::zeros({S}, x.options());
      selected.index_fill_(0, top, 1.0);  // one-hot over the group's tokens
      const at::Tensor group = tokens.narrow(0, g * S, S);
      out.narrow(0, g * S, S) +=
          (selected * probs[g].select(1, e)).unsqueeze(1) * expert_ffn(moe, e, group);
    }
  return out.view_as(x);
}

// Nonzero biases (they start at zero), so that where each one is added is checked too.
void randomize_biases(MoeLayer& moe) {
  torch::NoGradGuard no_grad;
  for (at::Tensor* b : {&moe.intermediate_bias, &moe.output_bias, &moe.router->bias})
    b->copy_(torch::randn_like(*b) * 0.5);
}

TEST(MoeLayerTest, ExpertsChooseMatchesTheOneHotOracle) {
  ModelConfig c = smx::testing::tiny_config("linear", Padding::kReference);
  c.max_group_size = 24;  // 3 examples of 16 -> 2 groups of 24 tokens
  torch::manual_seed(3);
  MoeLayer moe(c);
  randomize_biases(moe);
  moe.eval();
  const at::Tensor x = torch::randn({3, 16, c.d_model});
  const at::Tensor want = oracle(moe, x, 24, c.eval_capacity_factor, c.min_expert_capacity);
  // Eval adds the experts' output biases in the combine pass: differentiable (ATen) while
  // gradients are wanted, inside the fused kernel under no_grad.
  const MoeOutput out = moe.forward(x, {});
  smx::testing::expect_close(out.output, want, 1e-5, "experts-choose vs one-hot oracle");
  {
    torch::NoGradGuard no_grad;
    smx::testing::expect_close(moe.forward(x, {}).output, want, 1e-5,
                               "experts-choose vs one-hot oracle, no_grad");
  }
  // z-loss = mean over tokens of logsumexp(logits)².
  const at::Tensor logits = moe.router->forward(x.reshape({-1, c.d_model}));
  EXPECT_NEAR(out.z_loss.item<float>(), at::logsumexp(logits, -1).square().mean().item<float>(),
              1e-6);
  EXPECT_EQ(out.aux_loss.item<float>(), 0.0f);
  // MoE FLOPs of this call: E·C slots per group, 4·D·F each.
  const int64_t C = routing::expert_capacity(1.0, 24, c.num_experts, c.min_expert_capacity);
  std::printf("    moe layer: %.3f MFLOP for 48 tokens (%ld slots per expert per group)\n",
              2.0 * c.num_experts * C * 4.0 * c.d_model * c.expert_d_ff / 1e6, C);
}

TEST(MoeLayerTest, EvalAndTrainCapacityFactorsDiffer) {
  ModelConfig c = smx::testing::tiny_config("linear", Padding::kReference);
  c.train_capacity_factor = 1.0;
  c.eval_capacity_factor = 0.5;
  c.expert_dropout_rate = 0.0;
  c.min_expert_capacity = 0;
  torch::manual_seed(4);
  MoeLayer moe(c);
  const at::Tensor x = torch::randn({2, 16, c.d_model});
  moe.train();
  const at::Tensor train_out = moe.forward(x, {}).output;
  moe.eval();
  const at::Tensor eval_out = moe.forward(x, {}).output;
  smx::testing::expect_close(train_out, oracle(moe, x, 4096, 1.0, 0), 1e-5, "train cf 1.0");
  smx::testing::expect_close(eval_out, oracle(moe, x, 4096, 0.5, 0), 1e-5, "eval cf 0.5");
  // Half the slots: some tokens get no expert at all, so their output row is exactly zero.
  EXPECT_GT((eval_out.abs().sum(-1) == 0).sum().item<int64_t>(), 0);
}

// Eval with and without skipping empty experts, same layer and input: bit-identical outputs.
void expect_skip_is_exact(MoeLayer& moe, const at::Tensor& x, const at::Tensor& valid,
                          const std::string& label, int64_t* active_with_skip) {
  moe.eval();
  torch::NoGradGuard no_grad;
  moe.skip_empty_experts = false;
  const at::Tensor full = moe.forward(x, valid).output;
  EXPECT_EQ(moe.last_active_experts(), moe.output_bias.size(0)) << label;
  moe.skip_empty_experts = true;
  const at::Tensor skipped = moe.forward(x, valid).output;
  *active_with_skip = moe.last_active_experts();
  std::printf("    %-40s %ld of %ld experts ran, max |diff| = %.3e\n", label.c_str(),
              static_cast<long>(*active_with_skip), static_cast<long>(moe.output_bias.size(0)),
              smx::testing::max_abs_diff(skipped, full));
  EXPECT_TRUE(torch::equal(skipped, full)) << label;
}

TEST(MoeLayerTest, SkippingEmptyExpertsIsBitIdentical) {
  // Tokens-choose top-1: 3 real tokens reach at most 3 of 8 experts; the rest are skipped.
  ModelConfig c = smx::testing::tiny_config("linear", Padding::kMasked);
  c.num_experts = 8;
  c.dispatch_algorithm = "MASK_TOKENS_CHOOSE";
  torch::manual_seed(5);
  MoeLayer tokens_choose(c);
  randomize_biases(tokens_choose);
  const at::Tensor x = torch::randn({2, 8, c.d_model});
  at::Tensor valid = torch::zeros({2, 8}, torch::kBool);
  valid[0].narrow(0, 0, 3).fill_(true);
  valid[1].narrow(0, 0, 1).fill_(true);
  int64_t active = 0;
  expect_skip_is_exact(tokens_choose, x, valid, "tokens-choose, 4 real tokens, fp32", &active);
  EXPECT_LE(active, 4);
  EXPECT_GE(active, 1);
  {
    AutocastScope bf16(true, torch::kCPU);
    expect_skip_is_exact(tokens_choose, x, valid, "tokens-choose, 4 real tokens, bf16", &active);
  }
  // Experts-choose: every expert with capacity >= 1 takes real tokens, so nothing is skipped;
  // with eval_min_expert_capacity 0, groups of 3 and 1 real tokens round to capacity 0
  // (cf·S/E = 3/8, 1/8) and no expert runs; 8 real tokens give capacity 1 and all 8 run.
  c.dispatch_algorithm = "MASK_EXPERTS_CHOOSE";
  c.eval_min_expert_capacity = 0;
  c.eval_capacity_factor = 1.0;
  torch::manual_seed(6);
  MoeLayer experts_choose(c);
  randomize_biases(experts_choose);
  expect_skip_is_exact(experts_choose, x, valid, "experts-choose, capacity 0", &active);
  EXPECT_EQ(active, 0);
  const at::Tensor all_valid = torch::ones({2, 8}, torch::kBool);
  expect_skip_is_exact(experts_choose, x, all_valid, "experts-choose, capacity 1", &active);
  EXPECT_EQ(active, c.num_experts);
}

TEST(MoeLayerTest, EvalMinExpertCapacityOverridesTheMinimumInEvalOnly) {
  ModelConfig c = smx::testing::tiny_config("linear", Padding::kReference);
  c.max_group_size = 4;  // 8 tokens -> 2 groups of 4; cf·S/E = 1
  c.min_expert_capacity = 4;
  c.expert_dropout_rate = 0.0;
  torch::manual_seed(7);
  MoeLayer moe(c);
  const at::Tensor x = torch::randn({1, 8, c.d_model});
  moe.eval();
  smx::testing::expect_close(moe.forward(x, {}).output, oracle(moe, x, 4, 1.0, 4), 1e-5,
                             "eval, minimum 4 (config)");
  moe.set_eval_min_expert_capacity(1);
  const at::Tensor one = moe.forward(x, {}).output;
  smx::testing::expect_close(one, oracle(moe, x, 4, 1.0, 1), 1e-5, "eval, eval minimum 1");
  EXPECT_GT(smx::testing::max_abs_diff(one, oracle(moe, x, 4, 1.0, 4)), 1e-6);  // C changed
  moe.train();  // training keeps min_expert_capacity
  smx::testing::expect_close(moe.forward(x, {}).output, oracle(moe, x, 4, 1.0, 4), 1e-5,
                             "train, minimum 4");
  smx::testing::expect_error([&] { moe.set_eval_min_expert_capacity(-2); },
                             "eval_min_expert_capacity");
}

}  // namespace
}  // namespace smx::model
