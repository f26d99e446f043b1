// The mixing-kind table (config/mixing_kinds.h) against the modules: every row has a factory, the
// module it builds has exactly the row's parameter count, maps [B, N, D] to [B, N, D], and use_fft
// is accepted exactly by the rows that declare an FFT path.
#include <set>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "smx/config/mixing_kinds.h"
#include "smx/model/mixing.h"
#include "support/test_util.h"

namespace smx::model {
namespace {

int64_t numel(const torch::nn::Module& m) {
  int64_t n = 0;
  for (const auto& p : m.parameters()) n += p.numel();
  return n;
}

// Two shapes, so that a formula right by accident at one (N = D, say) fails at the other.
std::vector<ModelConfig> configs_of(const MixingKindInfo& kind, bool use_fft) {
  std::vector<ModelConfig> out;
  for (const auto& [n, d] : {std::pair<int64_t, int64_t>{16, 32}, {12, 20}}) {
    ModelConfig c = smx::testing::tiny_config(kind.arch);
    c.max_seq_len = n;
    c.d_model = d;
    c.use_fft = use_fft;
    c.validate();
    out.push_back(c);
  }
  return out;
}

TEST(MixingRegistryTest, EveryKindBuildsAModuleWithTheRowsParameterCount) {
  ASSERT_FALSE(mixing_kinds().empty());
  EXPECT_EQ(attention_mixing().arch, "bert");
  for (const MixingKindInfo& kind : mixing_kinds()) {
    const MixingFactory make = find_mixing_factory(kind.arch);
    ASSERT_NE(make, nullptr) << kind.arch << " has no factory in src/model/mixing.cpp";
    ASSERT_NE(kind.parameters, nullptr) << kind.arch;
    ASSERT_NE(kind.flops, nullptr) << kind.arch;
    for (const bool fft : {false, true}) {
      if (fft && !kind.fft) continue;
      for (const ModelConfig& c : configs_of(kind, fft)) {
        const std::shared_ptr<Mixing> module = make(c);
        const int64_t built = numel(*module), formula = kind.parameters(c);
        std::printf("    %-10s N=%-3ld D=%-3ld fft=%d: built %ld parameters, formula %ld\n",
                    kind.layer_name.c_str(), c.max_seq_len, c.d_model, fft, built, formula);
        EXPECT_EQ(built, formula) << kind.arch << " fft=" << fft;
        EXPECT_GT(kind.flops(c, static_cast<double>(c.max_seq_len)), 0) << kind.arch;
        // Every layer of the config gets the module of its row (attention or the arch's kind).
        for (int64_t l = 0; l < c.num_layers; ++l)
          EXPECT_EQ(numel(*make_mixing(c, l)), c.mixing_at(l).parameters(c))
              << kind.arch << " layer " << l;
        module->eval();
        torch::NoGradGuard no_grad;
        const at::Tensor x = torch::randn({2, c.max_seq_len, c.d_model});
        const at::Tensor y = module->forward({x, torch::ones({2, c.max_seq_len}, torch::kBool)});
        EXPECT_EQ(y.sizes(), x.sizes()) << kind.arch;
        EXPECT_TRUE(y.isfinite().all().item<bool>()) << kind.arch;
      }
    }
  }
}

TEST(MixingRegistryTest, NamesAreUniqueAndUseFftFollowsTheRow) {
  std::set<std::string> archs, layer_names;
  for (const MixingKindInfo& kind : mixing_kinds()) {
    EXPECT_TRUE(archs.insert(kind.arch).second) << "model_arch " << kind.arch << " twice";
    EXPECT_TRUE(layer_names.insert(kind.layer_name).second) << kind.layer_name << " twice";
    EXPECT_EQ(find_mixing_kind(kind.arch), &kind);
    ModelConfig c = smx::testing::tiny_config(kind.arch);
    c.use_fft = true;
    if (kind.fft) {
      EXPECT_NO_THROW(c.validate()) << kind.arch;
    } else {
      smx::testing::expect_error([&] { c.validate(); }, "use_fft applies to");
    }
  }
  EXPECT_EQ(find_mixing_kind("nope"), nullptr);
  EXPECT_EQ(find_mixing_factory("nope"), nullptr);
  ModelConfig c = smx::testing::tiny_config();
  c.model_arch = "nope";
  smx::testing::expect_error([&] { c.validate(); },
                             "model_arch 'nope' is unknown; use one of bert");
}

}  // namespace
}  // namespace smx::model
