// bf16 end to end in training (model/compute_weights.h): a few pre-training steps with bf16 weight
// copies and bf16 activations against the same steps under plain autocast (within bf16 tolerance);
// fp32 steps identical bit for bit whichever way the switch is set; gradient accumulation and
// clipping see the copies' gradients; bf16 resume exact, with checkpoints and weights in fp32.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "smx/bench/pretraining_step.h"
#include "smx/bench/synthetic_batch.h"
#include "smx/core/autocast.h"
#include "smx/dist/training_session.h"
#include "smx/io/safetensors.h"
#include "smx/model/compute_weights.h"
#include "smx/model/sparse_mixer.h"
#include "smx/train/adamw.h"
#include "smx/train/pretrainer.h"
#include "smx/train/training_step.h"
#include "support/scratch_dir.h"
#include "support/test_util.h"
#include "support/tiny_pretraining.h"
#include "support/tiny_tokenizer.h"

namespace smx::train {
namespace bf16_training_test {

// The tiny Sparse Mixer of the tests (attention, Linear mixing, MoE) without dropout or jitter, so
// that two runs differ only in precision.
ModelConfig deterministic_config(const std::string& arch = "linear") {
  ModelConfig c = smx::testing::tiny_config(arch, Padding::kMasked);
  c.dropout_rate = 0;
  c.mixing_dropout_rate = 0;
  c.expert_dropout_rate = 0;
  c.jitter_noise = 0;
  return c;
}

struct TrainedRun {
  std::vector<double> losses;
  std::shared_ptr<model::SparseMixer> model;
};

// `steps` optimizer steps on one synthetic batch; bf16 autocast when `bf16`, with the end-to-end
// switch as given.
TrainedRun train_steps(const ModelConfig& c, int steps, bool bf16, bool end_to_end) {
  model::set_bf16_end_to_end(end_to_end);
  TrainedRun run;
  run.model = model::make_sparse_mixer(c, 7);
  AdamW optimizer(*run.model, {0.9, 0.999, 1e-6, 0.01});
  const auto batch = bench::make_synthetic_batch(c, 4, c.max_seq_len, 3, c.max_seq_len - 3);
  for (int s = 0; s < steps; ++s) {
    AutocastScope autocast(bf16, at::kCPU);
    run.losses.push_back(bench::pretraining_step(*run.model, optimizer, batch, 1e-3));
  }
  model::set_bf16_end_to_end(true);
  return run;
}

double max_param_diff(const torch::nn::Module& a, const torch::nn::Module& b) {
  const auto pa = a.named_parameters(), pb = b.named_parameters();
  double worst = 0;
  for (const auto& p : pa)
    worst = std::max(worst, smx::testing::max_abs_diff(p.value(), pb[p.key()]));
  return worst;
}

bool params_equal(const torch::nn::Module& a, const torch::nn::Module& b) {
  const auto pb = b.named_parameters();
  for (const auto& p : a.named_parameters())
    if (!at::equal(p.value(), pb[p.key()])) return false;
  return true;
}

TEST(Bf16TrainingTest, EndToEndMatchesAutocastWithinBf16Tolerance) {
  for (const std::string arch : {"linear", "bert"}) {
    const ModelConfig c = deterministic_config(arch);
    const size_t copies_before = model::weight_copy_count();
    const TrainedRun autocast = train_steps(c, 4, true, false);
    EXPECT_EQ(model::weight_copy_count(), copies_before) << "plain autocast makes no copies";
    const TrainedRun e2e = train_steps(c, 4, true, true);
    EXPECT_GT(model::weight_copy_count(), copies_before);
    double worst_loss = 0;
    for (size_t i = 0; i < autocast.losses.size(); ++i) {
      std::printf("    %-6s step %zu  loss autocast %.5f  bf16 e2e %.5f\n", arch.c_str(), i + 1,
                  autocast.losses[i], e2e.losses[i]);
      worst_loss = std::max(worst_loss, std::abs(autocast.losses[i] - e2e.losses[i]));
    }
    const double worst_param = max_param_diff(*autocast.model, *e2e.model);
    std::printf("    %-6s 4 steps: max|loss diff| %.3e, max|param diff| %.3e (lr 1e-3)\n",
                arch.c_str(), worst_loss, worst_param);
    // Losses ~ln(97) = 4.6: bf16 activations move them by a few 1e-3. Each AdamW step moves a
    // weight by about lr, so after 4 steps two runs differ by at most ~2 · 4 · lr where a
    // gradient's sign differs.
    EXPECT_LT(worst_loss, 3e-2);
    EXPECT_LT(worst_param, 8e-3);
    for (const auto& p : e2e.model->named_parameters()) {
      ASSERT_EQ(p.value().scalar_type(), at::kFloat) << p.key();
      const at::Tensor copy = model::weight_copy(p.value());
      if (copy.defined()) {  // AdamW rewrote the copy with the master: equal after every step
        EXPECT_TRUE(at::equal(copy, p.value().to(at::kBFloat16))) << p.key();
      }
    }
  }
}

TEST(Bf16TrainingTest, Fp32StepsAreIdenticalWithTheSwitchOnOrOff) {
  const ModelConfig c = deterministic_config();
  const size_t copies_before = model::weight_copy_count();
  const TrainedRun on = train_steps(c, 3, false, true);
  const TrainedRun off = train_steps(c, 3, false, false);
  EXPECT_EQ(model::weight_copy_count(), copies_before) << "fp32 makes no copies";
  for (size_t i = 0; i < on.losses.size(); ++i) EXPECT_EQ(on.losses[i], off.losses[i]);
  const double diff = max_param_diff(*on.model, *off.model);
  std::printf("    fp32, switch on vs off: max|param diff| = %.1e (must be 0)\n", diff);
  EXPECT_TRUE(params_equal(*on.model, *off.model));
}

// Two micro-batches of 2 fold the copies' gradients onto the masters in fp32; clipping scales
// the copies' gradients. Checked against the autocast path, which accumulates on the masters.
TEST(Bf16TrainingTest, AccumulationAndClippingReachTheCopies) {
  const ModelConfig c = deterministic_config();
  const auto batch = bench::make_synthetic_batch(c, 4, c.max_seq_len, 5);
  std::vector<std::shared_ptr<model::SparseMixer>> models;
  std::vector<double> losses;
  for (const bool e2e : {false, true}) {
    model::set_bf16_end_to_end(e2e);
    auto m = model::make_sparse_mixer(c, 9);
    m->train();
    AdamW optimizer(*m, {0.9, 0.999, 1e-6, 0.01});
    dist::TrainingSession single{dist::DistOptions{}};
    TrainingStep step(*m, optimizer, single, /*clip_norm=*/0.05);
    for (int s = 0; s < 2; ++s) {
      AutocastScope autocast(true, at::kCPU);
      losses.push_back(step.run(
          s, 1e-3, 2,
          [&](int64_t micro) {
            const auto ids = batch.input_ids.narrow(0, 2 * micro, 2);
            const auto out = m->forward(ids, batch.type_ids.narrow(0, 2 * micro, 2),
                                        batch.masked_lm_positions.narrow(0, 2 * micro, 2));
            const at::Tensor loss = out.mlm_logits.to(at::kFloat).logsumexp(-1).mean() +
                                    out.encoder.z_loss.sum() * 1e-4;
            return MicroBatchLoss{loss, {}};
          },
          [](double, int64_t) { return std::string("non-finite"); }));
    }
    model::set_bf16_end_to_end(true);
    models.push_back(m);
  }
  const double diff = max_param_diff(*models[0], *models[1]);
  std::printf(
      "    2 steps x 2 micro-batches, clip 0.05: losses %.5f %.5f (autocast) vs %.5f %.5f "
      "(e2e), max|param diff| %.3e\n",
      losses[0], losses[1], losses[2], losses[3], diff);
  EXPECT_LT(std::abs(losses[1] - losses[3]), 3e-2);
  EXPECT_LT(diff, 5e-3);
  // Clipped to 0.05, an update is still about lr per weight; unclipped copies' gradients
  // (missed by accumulation or clipping) would not change that, so also check the gradients
  // themselves were folded: no copy holds a gradient after the step.
  for (const auto& p : models[1]->parameters()) {
    const at::Tensor copy = model::weight_copy(p);
    if (copy.defined()) {
      EXPECT_FALSE(copy.grad().defined());
    }
  }
}

PretrainOptions bf16_options_in(const smx::testing::ScratchDir& dir, const std::string& run) {
  PretrainOptions o = smx::testing::tiny_pretrain_options(dir, run);
  o.bf16 = true;
  return o;
}

TEST(Bf16TrainingTest, Bf16ResumeContinuesExactlyFromFp32Checkpoints) {
  smx::testing::ScratchDir dir;
  const ModelConfig c = smx::testing::tiny_pretraining_config();
  const PretrainResult straight = pretrain(c, bf16_options_in(dir, "straight"));
  ASSERT_EQ(straight.losses.size(), 6u);
  PretrainOptions first = bf16_options_in(dir, "split");
  first.stop_after = 3;
  const PretrainResult a = pretrain(c, first);
  PretrainOptions second = bf16_options_in(dir, "split");
  second.resume = true;
  const PretrainResult b = pretrain(c, second);
  ASSERT_EQ(a.losses.size() + b.losses.size(), 6u);
  const double worst = smx::testing::max_resume_loss_diff(straight, a, b);
  std::printf("    bf16: 3 + resume + 3 vs 6 straight: max |loss diff| = %.3e\n", worst);
  EXPECT_LT(worst, 1e-6);
  // Weights and checkpoints hold fp32 masters only (no bf16 copy is saved).
  for (const std::string file : {"split/model.safetensors", "straight/model.safetensors"})
    for (const auto& t : io::read_safetensors(dir.file(file)).tensors)
      EXPECT_EQ(t.tensor.scalar_type(), at::kFloat) << file << ": " << t.name;
}

}  // namespace bf16_training_test
}  // namespace smx::train
