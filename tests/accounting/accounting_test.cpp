#include <gtest/gtest.h>

#include "smx/accounting/accounting.h"
#include "smx/model/sparse_mixer.h"
#include "support/test_util.h"

namespace smx::accounting {
namespace {

int64_t numel(const torch::nn::Module& m) {
  int64_t n = 0;
  for (const auto& p : m.parameters()) n += p.numel();
  return n;
}

TEST(AccountingTest, PaperPresetsHaveThePinnedParameterCounts) {
  // docs/design.md §6.1, pinned.
  EXPECT_EQ(account(load_model_config("bert-base")).encoder_parameters, 111209472);
  EXPECT_EQ(account(load_model_config("sparse-mixer-base")).encoder_parameters, 182060096);
  EXPECT_EQ(account(load_model_config("fast-sparse-mixer-base")).encoder_parameters, 182060096);
  EXPECT_EQ(account(load_model_config("bert-base")).heads.parameters, 625666);
  EXPECT_EQ(account(load_model_config("sparse-mixer-base")).total_parameters,
            182060096 + 262656 + 1024 + 32000 + 1026);
  // ≈ 56.1M active per token with one expert per MoE layer.
  EXPECT_NEAR(account(load_model_config("sparse-mixer-base")).active_parameters / 1e6, 56.1, 0.05);
}

TEST(AccountingTest, CountsMatchTheBuiltModulesForEveryArchitecture) {
  for (const MixingKindInfo& kind : mixing_kinds()) {
    const std::string& arch = kind.arch;
    const ModelConfig c = smx::testing::tiny_config(arch);
    auto model = model::make_sparse_mixer(c, 0);
    const Report r = account(c);
    EXPECT_EQ(r.encoder_parameters, numel(*model->encoder)) << arch;
    EXPECT_EQ(r.total_parameters, numel(*model)) << arch;
  }
}

TEST(AccountingTest, UsefulFlopsMatchTheDesignDoc) {
  // docs/design.md §6.2: ~97 GFLOP (BERT), ~42 (SM), ~38 (FSM) per 512-token example, no heads.
  const Report bert = account(load_model_config("bert-base"));
  const Report sm = account(load_model_config("sparse-mixer-base"));
  const Report fsm = account(load_model_config("fast-sparse-mixer-base"));
  std::printf("    GFLOPs/example: bert %.1f, sm %.1f (+%.1f einsum), fsm %.1f (+%.1f einsum)\n",
              bert.encoder_gflops, sm.encoder_gflops, sm.einsum_gflops, fsm.encoder_gflops,
              fsm.einsum_gflops);
  EXPECT_NEAR(bert.encoder_gflops, 97, 1.5);
  EXPECT_NEAR(sm.encoder_gflops, 42.2, 1.0);
  EXPECT_NEAR(fsm.encoder_gflops, 37.9, 1.0);
  EXPECT_NEAR(bert.total_gflops, 102, 1.5);  // with heads: the paper's Table 8 figure
  // Linear mixing: 2.68 GMAC over 10 layers; MoE at cf 1: 4.31 GMAC (docs/design.md §6.2).
  for (const auto& p : sm.components) {
    if (p.name == "linear") {
      EXPECT_NEAR(p.gflops, 2 * 2.68, 0.02);
    }
    if (p.name == "moe") {
      EXPECT_NEAR(p.gflops, 2 * 4.31, 0.05);
    }
  }
  EXPECT_GT(sm.einsum_gflops, 10);  // the one-hot dispatch the paper's FLOPs include
}

}  // namespace
}  // namespace smx::accounting
