// Parameter initialisers and SkipParameterInit: a model built to receive weights draws nothing from
// the generator, and random initialisation outside the guard is unchanged by it.
#include "smx/model/dense.h"

#include <cmath>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "smx/model/sparse_mixer.h"
#include "support/test_util.h"

namespace smx::model {
namespace {

using smx::testing::tiny_config;

at::Tensor generator_state() {
  return at::detail::getDefaultCPUGenerator().get_state();  // [bytes] uint8
}

// Bitwise equality of every parameter and buffer, in order.
void expect_same_weights(torch::nn::Module& a, torch::nn::Module& b, const std::string& what) {
  const auto pa = a.named_parameters(), pb = b.named_parameters();
  ASSERT_EQ(pa.size(), pb.size()) << what;
  for (size_t i = 0; i < pa.size(); ++i) {
    const at::Tensor& x = pa[i].value();
    const at::Tensor& y = pb[i].value();
    ASSERT_EQ(pa[i].key(), pb[i].key()) << what;
    ASSERT_EQ(x.sizes(), y.sizes()) << what << ": " << pa[i].key();
    ASSERT_EQ(x.scalar_type(), y.scalar_type()) << what << ": " << pa[i].key();
    const double diff = x.numel() == 0 ? 0.0 : (x - y).abs().max().item<double>();
    EXPECT_EQ(std::memcmp(x.data_ptr(), y.data_ptr(), x.numel() * x.element_size()), 0)
        << what << ": " << pa[i].key() << " differs, max |diff| " << diff;
  }
}

TEST(SkipParameterInit, BuildsEveryArchitectureWithoutDrawingRandomNumbers) {
  for (const auto& arch : smx::testing::all_archs()) {
    SCOPED_TRACE(arch);
    const ModelConfig c = tiny_config(arch);
    torch::manual_seed(123);
    const at::Tensor before = generator_state();
    std::shared_ptr<SparseMixer> skipped;
    {
      SkipParameterInit guard;
      EXPECT_TRUE(parameter_init_skipped());
      skipped = std::make_shared<SparseMixer>(c, 3);
    }
    EXPECT_FALSE(parameter_init_skipped());
    EXPECT_TRUE(torch::equal(generator_state(), before)) << "the guarded build drew numbers";
    // Same parameters (names, shapes, dtypes) as a randomly initialised model, which does draw.
    SparseMixer initialised(c, 3);
    EXPECT_FALSE(torch::equal(generator_state(), before)) << "the reference build drew nothing";
    const auto ps = skipped->named_parameters(), pi = initialised.named_parameters();
    ASSERT_EQ(ps.size(), pi.size());
    for (size_t i = 0; i < ps.size(); ++i) {
      EXPECT_EQ(ps[i].key(), pi[i].key());
      EXPECT_EQ(ps[i].value().sizes(), pi[i].value().sizes()) << ps[i].key();
      EXPECT_EQ(ps[i].value().scalar_type(), pi[i].value().scalar_type()) << ps[i].key();
      EXPECT_TRUE(ps[i].value().requires_grad()) << ps[i].key();
    }
  }
}

TEST(SkipParameterInit, SeededInitialisationIsUnchangedAroundTheGuard) {
  for (const auto& arch : smx::testing::all_archs()) {
    SCOPED_TRACE(arch);
    const ModelConfig c = tiny_config(arch);
    auto reference = make_sparse_mixer(c, 7);
    {
      SkipParameterInit outer;
      SkipParameterInit inner;  // nests
      make_sparse_mixer(c, 7);
    }
    auto after = make_sparse_mixer(c, 7);
    expect_same_weights(*reference, *after, arch + ": seed 7 before and after a guarded build");
    // The guard is per thread: another thread's model is initialised as usual.
    SkipParameterInit guard;
    std::shared_ptr<SparseMixer> other;
    std::thread([&] { other = make_sparse_mixer(c, 7); }).join();
    expect_same_weights(*reference, *other, arch + ": seed 7 on a thread without the guard");
  }
}

TEST(SkipParameterInit, InitialisersDrawAsTheirDefinitionsSay) {
  // normal_002 is N(0, 1) scaled by 0.02, number for number, from the same generator state.
  torch::manual_seed(5);
  const at::Tensor expected = torch::randn({64, 32}) * 0.02;
  torch::manual_seed(5);
  const at::Tensor got = normal_002({64, 32});
  EXPECT_TRUE(torch::equal(got, expected))
      << "max |diff| " << (got - expected).abs().max().item<double>();
  // lecun_normal: inside ±2σ with σ = sqrt(1 / fan_in) / 0.8796 and variance 1 / fan_in.
  torch::manual_seed(5);
  const at::Tensor w = lecun_normal(256, {256, 512});
  const double sigma = std::sqrt(1.0 / 256) / 0.87962566103423978;
  EXPECT_LE(w.abs().max().item<double>(), 2 * sigma + 1e-6);
  EXPECT_NEAR(w.var().item<double>(), 1.0 / 256, 0.05 / 256);
  // Under the guard both give fp32 tensors of the asked shape and leave the generator alone.
  const at::Tensor before = generator_state();
  SkipParameterInit guard;
  EXPECT_EQ(normal_002({3, 4}).sizes(), (std::vector<int64_t>{3, 4}));
  EXPECT_EQ(lecun_normal(4, {4, 5}).scalar_type(), at::kFloat);
  EXPECT_EQ(lecun_normal(4, {4, 5}).sizes(), (std::vector<int64_t>{4, 5}));
  EXPECT_TRUE(torch::equal(generator_state(), before));
}

}  // namespace
}  // namespace smx::model
