// A tiny Sparse Mixer on the test device ($SMX_TEST_DEVICE, cpu by default; scripts/device_check
// runs the unit tests with cuda): the eval forward matches the CPU's with the same weights, bf16
// autocast on that device stays close to fp32, and training steps (the trainer's loss and AdamW,
// as `smx bench` times them) lower the loss of a fixed batch there.
#include <cmath>
#include <cstdio>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "smx/bench/precision.h"
#include "smx/bench/pretraining_step.h"
#include "smx/bench/synthetic_batch.h"
#include "smx/core/autocast.h"
#include "smx/model/sparse_mixer.h"
#include "support/test_util.h"

namespace smx {
namespace model_device_test {

Batch batch_on(Batch b, const at::Device& device) {
  for (at::Tensor* t : {&b.input_ids, &b.type_ids, &b.masked_lm_positions, &b.masked_lm_ids,
                        &b.masked_lm_weights, &b.nsp_labels, &b.labels})
    if (t->defined()) *t = t->to(device);
  return b;
}

ModelConfig no_dropout(ModelConfig c) {
  c.dropout_rate = c.mixing_dropout_rate = c.expert_dropout_rate = 0.0;
  return c;
}

TEST(ModelOnTestDeviceTest, EvalForwardMatchesTheCpu) {
  const at::Device device = smx::testing::test_device();
  std::printf("    test device: %s\n", device.str().c_str());
  for (const std::string arch : {"linear", "bert"}) {
    const ModelConfig c = smx::testing::tiny_config(arch, Padding::kMasked);
    auto cpu = model::make_sparse_mixer(c, 3);
    auto there = model::make_sparse_mixer(c, 3);  // same seed: same weights
    there->to(device);
    cpu->eval();
    there->eval();
    const Batch b = bench::make_synthetic_batch(c, 2, c.max_seq_len, 9, c.max_seq_len - 3);
    const Batch d = batch_on(b, device);
    torch::NoGradGuard no_grad;
    const auto want = cpu->forward(b.input_ids, b.type_ids);
    const auto got = there->forward(d.input_ids, d.type_ids);
    EXPECT_EQ(got.classification_logits.device(), device);
    smx::testing::expect_close(got.classification_logits.cpu(), want.classification_logits, 1e-4,
                               arch + " classification logits on " + device.str());
  }
}

TEST(ModelOnTestDeviceTest, Bf16AutocastStaysCloseToFp32) {
  const at::Device device = smx::testing::test_device();
  const ModelConfig c = smx::testing::tiny_config("linear", Padding::kMasked);
  auto m = model::make_sparse_mixer(c, 5);
  m->to(device);
  m->eval();
  const Batch b = batch_on(bench::make_synthetic_batch(c, 2, c.max_seq_len, 4), device);
  torch::NoGradGuard no_grad;
  const at::Tensor fp32 = m->forward(b.input_ids, b.type_ids).encoder.hidden.cpu();
  at::Tensor bf16;
  {
    const AutocastScope scope(true, device, AutocastCache::kKeep);
    bf16 = m->forward(b.input_ids, b.type_ids).encoder.hidden.to(torch::kFloat).cpu();
  }
  clear_autocast_cache();
  // LayerNorm-ed hidden states are O(1); bf16 keeps 8 bits of mantissa through 4 layers.
  smx::testing::expect_close(bf16, fp32, 0.15, "bf16 vs fp32 hidden on " + device.str());
}

TEST(ModelOnTestDeviceTest, TrainingStepsLowerTheLossOfAFixedBatch) {
  const at::Device device = smx::testing::test_device();
  const ModelConfig c = no_dropout(smx::testing::tiny_config("linear", Padding::kMasked));
  auto m = model::make_sparse_mixer(c, 7);
  m->to(device);
  const Batch b = batch_on(bench::make_synthetic_batch(c, 4, c.max_seq_len, 2), device);
  auto optimizer = bench::make_adamw(*m);
  const double first = bench::pretraining_step(*m, *optimizer, b, 3e-3);
  double last = first;
  for (int i = 0; i < 5; ++i) last = bench::pretraining_step(*m, *optimizer, b, 3e-3);
  std::printf("    loss on %s: %.4f -> %.4f after 5 steps\n", device.str().c_str(), first, last);
  EXPECT_TRUE(std::isfinite(last));
  EXPECT_LT(last, first);
  for (const auto& p : m->parameters()) EXPECT_EQ(p.device(), device);
}

}  // namespace model_device_test
}  // namespace smx
