// Pre-training runs at a tiny size: exact resume, checkpoint layout, NaN stop, bad inputs.
#include <filesystem>
#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "smx/core/error.h"
#include "smx/io/checkpoint.h"
#include "smx/tokenizer/tokenizer.h"
#include "smx/train/pretrainer.h"
#include "support/scratch_dir.h"
#include "support/test_util.h"
#include "support/tiny_pretraining.h"
#include "support/tiny_tokenizer.h"

namespace smx::train {
namespace {

using ::testing::HasSubstr;

using smx::testing::tiny_pretrain_options;
using smx::testing::tiny_pretraining_config;

using smx::testing::expect_error;

TEST(PretrainerTest, ResumeContinuesExactly) {
  smx::testing::ScratchDir dir;
  const ModelConfig c = tiny_pretraining_config();
  const PretrainResult straight = pretrain(c, tiny_pretrain_options(dir, "straight"));
  ASSERT_EQ(straight.losses.size(), 6u);

  PretrainOptions first = tiny_pretrain_options(dir, "split");
  first.stop_after = 3;
  const PretrainResult a = pretrain(c, first);
  EXPECT_TRUE(a.interrupted);
  PretrainOptions second = tiny_pretrain_options(dir, "split");
  second.resume = true;
  const PretrainResult b = pretrain(c, second);
  ASSERT_EQ(a.losses.size() + b.losses.size(), 6u);
  const double worst = smx::testing::max_resume_loss_diff(straight, a, b);
  std::printf("    3 + resume + 3 vs 6 straight: max |loss diff| = %.3e\n", worst);
  EXPECT_LT(worst, 1e-6);
  EXPECT_GT(straight.losses.front(), 0.0);
  EXPECT_NEAR(b.final_eval.loss, straight.final_eval.loss, 1e-6);
}

TEST(PretrainerTest, WritesMetricsCheckpointsAndFinalWeights) {
  smx::testing::ScratchDir dir;
  PretrainOptions o = tiny_pretrain_options(dir, "run");
  o.checkpoint_every = 2;
  o.keep_checkpoints = 2;
  o.log_every = 2;
  o.eval_every = 3;
  pretrain(tiny_pretraining_config(), o);
  std::vector<std::string> kept;
  for (const auto& e : std::filesystem::directory_iterator(o.out_dir + "/checkpoints"))
    kept.push_back(e.path().filename().string());
  std::sort(kept.begin(), kept.end());
  EXPECT_EQ(kept, (std::vector<std::string>{"step-00000004", "step-00000006"}));
  EXPECT_TRUE(std::filesystem::exists(o.out_dir + "/model.safetensors"));
  EXPECT_TRUE(std::filesystem::exists(o.out_dir + "/config.json"));
  std::ifstream metrics(o.out_dir + "/metrics.jsonl");
  int train_lines = 0, eval_lines = 0;
  for (std::string line; std::getline(metrics, line);) {
    const auto j = nlohmann::json::parse(line);
    (j["type"] == "train" ? train_lines : eval_lines)++;
  }
  EXPECT_EQ(train_lines, 3);  // steps 2, 4, 6
  EXPECT_EQ(eval_lines, 2);   // step 3 and the final one
  // Starting again in the same folder without --resume would mix two runs.
  expect_error([&] { pretrain(tiny_pretraining_config(), o); }, "pass --resume");
}

TEST(PretrainerTest, NonFiniteLossStopsNamingTheStep) {
  smx::testing::ScratchDir dir;
  PretrainOptions o = tiny_pretrain_options(dir, "nan");
  o.learning_rate = 1e30;
  o.warmup_steps = 0;
  o.steps = 50;
  expect_error([&] { pretrain(tiny_pretraining_config(), o); }, "at step");
}

TEST(PretrainerTest, BadInputsFailBeforeTraining) {
  smx::testing::ScratchDir dir;
  const ModelConfig c = tiny_pretraining_config();
  PretrainOptions o = tiny_pretrain_options(dir, "bad");
  ModelConfig wrong_vocab = c;
  wrong_vocab.vocab_size = c.vocab_size + 1;
  expect_error([&] { pretrain(wrong_vocab, o); }, "pieces but config");

  PretrainOptions empty = o;
  empty.data_files = {dir.write("empty.txt", "")};
  expect_error([&] { pretrain(c, empty); }, "empty.txt");
  PretrainOptions binary = o;
  binary.data_files = {dir.write("binary.bin", std::string("abc\0def\n", 8))};
  expect_error([&] { pretrain(c, binary); }, "binary.bin");
  PretrainOptions latin1 = o;
  latin1.data_files = {dir.write("latin1.txt", "caf\xe9\nline two\n")};
  expect_error([&] { pretrain(c, latin1); }, "latin1.txt");
  PretrainOptions missing = o;
  missing.data_files = {dir.file("nope.txt")};
  expect_error([&] { pretrain(c, missing); }, "nope.txt");

  PretrainOptions unwritable = o;
  unwritable.out_dir = dir.write("a-file", "x") + "/run";
  expect_error([&] { pretrain(c, unwritable); }, "cannot create output folder");

  // A checkpoint of one architecture does not resume into another.
  PretrainOptions run = tiny_pretrain_options(dir, "arch");
  run.steps = 2;
  pretrain(c, run);
  ModelConfig wider = c;
  wider.d_model = 64;
  run.resume = true;
  expect_error([&] { pretrain(wider, run); }, "d_model = 32 in the file, 64 in this config");
}

}  // namespace
}  // namespace smx::train
