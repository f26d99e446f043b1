// smx info / init / forward end to end through the real binary.
#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "smx/io/safetensors.h"
#include "smx/model/model_weights.h"
#include "smx/model/sparse_mixer.h"
#include "support/run_cli.h"
#include "support/scratch_dir.h"
#include "support/test_util.h"

namespace smx {
namespace {

using smx::testing::run_smx;
using ::testing::HasSubstr;

TEST(CliTest, InfoPrintsThePinnedParameterCounts) {
  const auto r = run_smx("info");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("111,209,472"));  // BERT-Base encoder
  EXPECT_THAT(r.output, HasSubstr("182,060,096"));  // Sparse Mixer Base encoder
  EXPECT_THAT(r.output, HasSubstr("layers 5-8    linear + moe"));
}

TEST(CliTest, InitThenForwardMatchesAnInProcessForward) {
  smx::testing::ScratchDir dir;
  const std::string weights = dir.file("w.safetensors"), out = dir.file("out.safetensors");
  auto r = run_smx("init --config sparse-mixer-tiny --seed 3 --out " + weights);
  ASSERT_EQ(r.status, 0) << r.output;
  {
    std::ofstream input(dir.file("in.json"));
    input << R"({"input_ids": [[1, 5, 9, 2, 7], [3, 4]], "masked_lm_positions": [[1, 3], [0]]})";
  }
  r = run_smx("forward --config sparse-mixer-tiny --weights " + weights + " --input " +
              dir.file("in.json") + " --out " + out);
  ASSERT_EQ(r.status, 0) << r.output;

  // The same computation in process: the config's padding rounds 5 tokens up to 8.
  const ModelConfig config = load_model_config("sparse-mixer-tiny");
  auto model = model::make_sparse_mixer(config, 99);
  model::load_model_weights(*model, weights);
  model->eval();
  torch::NoGradGuard no_grad;
  const at::Tensor ids =
      torch::tensor({1L, 5L, 9L, 2L, 7L, 0L, 0L, 0L, 3L, 4L, 0L, 0L, 0L, 0L, 0L, 0L}).view({2, 8});
  const at::Tensor positions = torch::tensor({1L, 3L, 0L, 0L}).view({2, 2});
  const auto expected = model->forward(ids, torch::zeros_like(ids), positions);
  const auto file = io::read_safetensors(out);
  std::map<std::string, at::Tensor> got;
  for (const auto& t : file.tensors) got[t.name] = t.tensor;
  smx::testing::expect_close(got.at("hidden"), expected.encoder.hidden, 1e-6, "forward: hidden");
  smx::testing::expect_close(got.at("pooled"), expected.encoder.pooled, 1e-6, "forward: pooled");
  smx::testing::expect_close(got.at("mlm_logits"), expected.mlm_logits, 1e-5,
                             "forward: mlm logits");
  smx::testing::expect_close(got.at("nsp_logits"), expected.classification_logits, 1e-6,
                             "forward: nsp");
  EXPECT_EQ(got.at("z_loss").size(0), 2);
  EXPECT_TRUE(torch::equal(got.at("input_ids"), ids));
}

TEST(CliTest, BadInputsGiveClearErrors) {
  smx::testing::ScratchDir dir;
  const std::string weights = dir.file("w.safetensors");
  ASSERT_EQ(run_smx("init --config sparse-mixer-tiny --out " + weights).status, 0);
  auto forward = [&](const std::string& json) {
    std::ofstream(dir.file("in.json")) << json;
    return run_smx("forward --config sparse-mixer-tiny --weights " + weights + " --input " +
                   dir.file("in.json") + " --out " + dir.file("o.safetensors"));
  };
  auto r = forward("{not json");
  EXPECT_EQ(r.status, 1);
  EXPECT_THAT(r.output, HasSubstr("in.json: not valid JSON"));
  r = forward("[1, 2]");
  EXPECT_THAT(r.output, HasSubstr("not a JSON object"));
  r = forward(R"({"input_ids": [[1, 600]]})");
  EXPECT_THAT(r.output, HasSubstr("token id 600 is outside the vocabulary"));
  r = forward(R"({"input_ids": [[1, "a"]]})");
  EXPECT_THAT(r.output, HasSubstr("input_ids[0][1]"));
  r = forward(R"({"ids": [[1]]})");
  EXPECT_THAT(r.output, HasSubstr("unknown key 'ids'"));
  // Weights of another architecture: the differing config key is named.
  std::ofstream(dir.file("in.json")) << R"({"input_ids": [[1, 2]]})";
  r = run_smx("forward --config sparse-mixer-tiny --set d_model=64 --weights " + weights +
              " --input " + dir.file("in.json") + " --out " + dir.file("o.safetensors"));
  EXPECT_EQ(r.status, 1);
  EXPECT_THAT(r.output, HasSubstr("d_model = 32 in the file, 64 in this config"));
  r = run_smx("info --config sparse-mixer-tiny --set num_heads=3");
  EXPECT_EQ(r.status, 1);
  EXPECT_THAT(r.output, HasSubstr("not divisible by num_heads"));
}

}  // namespace
}  // namespace smx
