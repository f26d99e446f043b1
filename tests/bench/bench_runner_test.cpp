// The bench runner's bookkeeping on a tiny config with one repeat: rows, ratios, JSON fields,
// synthetic batch shapes and the ablation configs. No timing is asserted, only structure.
#include <cmath>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "smx/bench/ablations.h"
#include "smx/bench/memory.h"
#include "smx/bench/pretraining_step.h"
#include "smx/bench/runner.h"
#include "smx/bench/synthetic_batch.h"
#include "smx/core/error.h"
#include "support/test_util.h"

namespace smx::bench {
namespace {

using ::testing::HasSubstr;

TEST(BenchStatsTest, MedianMinMax) {
  const Stats odd = summarize({3.0, 1.0, 2.0});
  EXPECT_EQ(odd.median, 2.0);
  EXPECT_EQ(odd.min, 1.0);
  EXPECT_EQ(odd.max, 3.0);
  EXPECT_EQ(summarize({4.0, 1.0, 2.0, 3.0}).median, 2.5);
  EXPECT_EQ(summarize({}).median, 0.0);
}

TEST(BenchBatchTest, ShapesPadsAndMaskedPositions) {
  const ModelConfig c = smx::testing::tiny_config();
  const Batch b = make_synthetic_batch(c, 3, 16, 7, 10);
  EXPECT_EQ(b.input_ids.sizes(), (std::vector<int64_t>{3, 16}));
  EXPECT_TRUE(b.input_ids.narrow(1, 10, 6).eq(c.pad_id).all().item<bool>());
  EXPECT_TRUE(b.input_ids.narrow(1, 0, 10).ne(c.pad_id).all().item<bool>());
  // 80 per 512 tokens scaled to 10 -> 2; inside the real tokens, after [CLS].
  EXPECT_EQ(b.masked_lm_positions.size(1), 2);
  EXPECT_TRUE(b.masked_lm_positions.ge(1).all().item<bool>() &&
              b.masked_lm_positions.lt(10).all().item<bool>());
  EXPECT_EQ(b.real_tokens, 3 * 10);
}

TEST(BenchStepTest, TimesTheTrainersLossOnTheTrainersBatch) {
  // Without dropout two forwards of the same weights agree, so the step's loss (computed before its
  // update) must be exactly train::pretraining_loss of the same batch.
  ModelConfig c = smx::testing::tiny_config("linear", Padding::kReference);
  c.dropout_rate = c.mixing_dropout_rate = c.expert_dropout_rate = 0.0;
  auto mixer = model::make_sparse_mixer(c, 11);
  Batch batch = make_synthetic_batch(c, 2, c.max_seq_len, 5, 12);
  // Weights summing below 1 tell the trainer's clamp (1e-5) from the old copy's (1.0).
  batch.masked_lm_weights.fill_(0.2f);
  batch.masked_lm_weights[0][0] = 0.0f;  // a padded prediction slot
  mixer->train();
  const auto out = mixer->forward(batch.input_ids, batch.type_ids, batch.masked_lm_positions);
  const double expected =
      train::pretraining_loss(out, batch, c.auxiliary_loss_factor, c.router_z_loss_factor)
          .total.item<double>();
  auto optimizer = make_adamw(*mixer);
  const double got = pretraining_step(*mixer, *optimizer, batch);
  std::printf("    bench step loss %.6f, trainer loss %.6f, |diff| = %.3e\n", got, expected,
              std::abs(got - expected));
  EXPECT_EQ(got, expected);
  // The step updated the weights: the same batch now has another loss.
  EXPECT_NE(pretraining_step(*mixer, *optimizer, batch), got);
}

TEST(BenchRunnerTest, TinyRunFillsTheTableAndJson) {
  ModelConfig sm = smx::testing::tiny_config("linear", Padding::kReference);
  sm.name = "tiny-sm";
  ModelConfig bert = smx::testing::tiny_config("bert", Padding::kReference);
  bert.name = "tiny-bert";
  BenchOptions o;
  o.seq_len = sm.max_seq_len;
  o.batch = 2;
  o.repeats = 1;
  o.warmup = 0;
  const BenchReport r = run_bench("tiny", {{"tiny-bert", bert, 0, 0}, {"tiny-sm", sm, 0, 0}}, o);
  ASSERT_EQ(r.cases.size(), 2u);
  for (const CaseResult& c : r.cases) {
    EXPECT_EQ(c.inference_ms.samples.size(), 1u);
    EXPECT_EQ(c.training_ms.samples.size(), 1u);
    EXPECT_GT(c.parameters, 0);
    EXPECT_GT(c.gflops_per_example, 0);
    EXPECT_GT(c.training_peak_bytes, 0);
    EXPECT_TRUE(std::isfinite(c.final_loss));
  }
  const std::string text = format_report(r);
  EXPECT_THAT(text, HasSubstr("tiny-bert"));
  EXPECT_THAT(text, HasSubstr("(1.00x/1.00x)"));
  const nlohmann::json j = to_json(r);
  ASSERT_EQ(j.at("results").size(), 2u);
  EXPECT_DOUBLE_EQ(j.at("results")[0].at("inference_speedup").get<double>(), 1.0);
  EXPECT_TRUE(j.at("results")[1].contains("training_speedup"));
  EXPECT_EQ(j.at("settings").at("batch"), 2);
}

TEST(BenchAblationTest, EveryKindBuildsValidConfigs) {
  for (const std::string& kind : ablation_kinds()) {
    const std::vector<BenchCase> cases = ablation_cases(kind);
    EXPECT_GE(cases.size(), 2u) << kind;
    for (const BenchCase& c : cases) EXPECT_NO_THROW(c.config.validate()) << kind << " " << c.label;
  }
  EXPECT_THROW(ablation_cases("nope"), smx::Error);
}

TEST(BenchMemoryTest, RssProbesReadProc) {
  EXPECT_GT(current_rss_bytes(), 0);
  EXPECT_GE(peak_rss_bytes(), current_rss_bytes() / 2);
}

}  // namespace
}  // namespace smx::bench
