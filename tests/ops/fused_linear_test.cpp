// fused_linear (a bf16 GEMM with the bias in its store) against the fp64 product of the same bf16
// operands, odd sizes, fp32 and bf16 biases, a transposed weight; the cases where it must
// decline; and a whole tiny Sparse Mixer's bf16 inference with and without it.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "ops/simd.h"
#include "smx/bench/op_profile.h"
#include "smx/core/autocast.h"
#include "smx/model/sparse_mixer.h"
#include "smx/ops/fused_kernels.h"
#include "smx/ops/fused_linear.h"
#include "support/test_util.h"

namespace smx::ops {
namespace {

bool fused_linear_expected() {
  return fused_linear_built() && simd::cpu_has_avx512();
}

// x · w + b in fp64 from the same (bf16) values.
at::Tensor linear_reference(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b) {
  return at::mm(x.to(at::kDouble), w.to(at::kDouble)) + b.to(at::kDouble);
}

struct LinearCase {
  std::string name;
  std::vector<int64_t> x_shape, w_shape;
  at::ScalarType bias_dtype = at::kFloat;
  bool transposed_w = false;  // w a [N, K] tensor's transpose (strides {1, K})
};

TEST(FusedLinearTest, MatchesTheFp64ProductOfItsBf16Operands) {
  if (!fused_linear_expected()) {
    GTEST_SKIP() << "no oneDNN in this build or no AVX-512 on this CPU";
  }
  const std::vector<LinearCase> cases = {
      {"plain", {64, 96}, {96, 80}},
      {"odd sizes", {37, 48}, {48, 19}},  // partial tiles
      {"bf16 bias", {32, 64}, {64, 48}, at::kBFloat16},
      {"transposed w", {32, 64}, {64, 48}, at::kFloat, true},
  };
  torch::NoGradGuard no_grad;
  for (const LinearCase& c : cases) {
    torch::manual_seed(0);
    const at::Tensor x = torch::randn(c.x_shape).to(at::kBFloat16);
    at::Tensor w = (torch::randn(c.w_shape) * 0.2).to(at::kBFloat16);
    if (c.transposed_w) w = w.t().contiguous().t();
    const at::Tensor b = torch::randn({c.w_shape.back()}).to(c.bias_dtype);
    const at::Tensor y = fused_linear(x, w, b);
    ASSERT_TRUE(y.defined()) << c.name << ": the fused path declined";
    EXPECT_EQ(y.scalar_type(), at::kBFloat16) << c.name;
    const at::Tensor want = linear_reference(x, w, b);
    ASSERT_EQ(y.sizes(), want.sizes()) << c.name;
    // One bf16 rounding of the result (2^-8 relative) plus fp32 accumulation.
    const double scale = 1.0 + want.abs().max().item<double>();
    const double diff = smx::testing::max_abs_diff(y.to(at::kDouble), want);
    std::printf("    %-18s x %-14s w %-14s max|diff| %.3e (tolerance %.0e)\n", c.name.c_str(),
                c10::str(c10::IntArrayRef(c.x_shape)).c_str(),
                c10::str(c10::IntArrayRef(c.w_shape)).c_str(), diff, 8e-3 * scale);
    EXPECT_LE(diff, 8e-3 * scale) << c.name;
  }
}

TEST(FusedLinearTest, DeclinesWhereTheUnfusedOpsMustRun) {
  const at::Tensor x = torch::randn({8, 16}).to(at::kBFloat16);
  const at::Tensor w = torch::randn({16, 4}).to(at::kBFloat16);
  const at::Tensor b = torch::randn({4});
  {
    torch::NoGradGuard no_grad;
    EXPECT_FALSE(fused_linear(x.to(at::kFloat), w.to(at::kFloat), b).defined()) << "fp32";
    EXPECT_FALSE(fused_linear(x, w, b.view({1, 4})).defined()) << "bias of the wrong rank";
    EXPECT_FALSE(fused_linear(x.narrow(0, 0, 0), w, b).defined()) << "no rows";
    EXPECT_FALSE(fused_linear(x.t(), w.narrow(0, 0, 8), b).defined()) << "x not row-major";
    set_fused_kernels(false);
    EXPECT_FALSE(fused_linear(x, w, b).defined()) << "fused kernels off";
    set_fused_kernels(true);
    if (fused_linear_expected()) {
      EXPECT_TRUE(fused_linear(x, w, b).defined());
    }
  }
  // Gradients wanted: nothing would be saved for backward.
  EXPECT_FALSE(fused_linear(x, w.clone().requires_grad_(true), b).defined());
}

// A tiny Sparse Mixer (Linear mixing, attention, MoE, masked padding) in bf16 inference: biases in
// the GEMMs' stores against the unfused ops, outputs within a few bf16 roundings.
TEST(FusedLinearTest, Bf16InferenceOfATinySparseMixerMatchesTheUnfusedOps) {
  if (!fused_linear_expected()) {
    GTEST_SKIP() << "no oneDNN in this build or no AVX-512 on this CPU";
  }
  ModelConfig c = smx::testing::tiny_config("linear", Padding::kMasked);
  const auto m = model::make_sparse_mixer(c, 7);
  m->eval();
  torch::manual_seed(8);
  at::Tensor ids = torch::randint(1, c.vocab_size, {3, 16}, torch::kLong);
  ids.narrow(1, 11, 5).select(0, 1).fill_(c.pad_id);  // a padded example
  const at::Tensor types = torch::zeros_like(ids);
  const at::Tensor positions = torch::randint(0, 11, {3, 4}, torch::kLong);
  torch::NoGradGuard no_grad;
  const auto hidden = [&](bool fused) {
    set_fused_kernels(fused);
    const AutocastScope scope(true, at::kCPU, AutocastCache::kClear);
    at::Tensor h = m->forward(ids, types, positions).encoder.hidden.to(at::kDouble);
    set_fused_kernels(true);
    return h;
  };
  at::Tensor fused;
  const bench::OpProfile profile = bench::profile_ops([&] { fused = hidden(true); });
  const at::Tensor unfused = hidden(false);
  // The fused path ran: the attention projections, the MLPs' output products.
  int64_t calls = 0;
  for (const bench::OpTime& op : profile.ops)
    if (op.name == "smx::fused_linear") calls += op.calls;
  EXPECT_GT(calls, 0);
  const double diff = smx::testing::max_abs_diff(fused, unfused);
  const double scale = unfused.abs().max().item<double>();
  std::printf(
      "    tiny Sparse Mixer bf16 hidden: max|fused - unfused| %.3e, max|hidden| %.2f (%lld "
      "fused GEMMs)\n",
      diff, scale, static_cast<long long>(calls));
  EXPECT_LE(diff, 0.05 * scale);
}

}  // namespace
}  // namespace smx::ops
