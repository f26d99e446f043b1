// cpu_matmul (oneDNN's matmul for inference) against the fp64 product of the same operands: bf16
// and fp32, with and without a bias (fp32 or bf16), odd sizes, transposed operands, batched and
// broadcast forms; the cases where it must decline; and a whole tiny Sparse Mixer's inference
// with and without it, fp32 and bf16.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "ops/simd.h"
#include "smx/bench/op_profile.h"
#include "smx/core/autocast.h"
#include "smx/model/sparse_mixer.h"
#include "smx/ops/cpu_matmul.h"
#include "smx/ops/fused_kernels.h"
#include "support/test_util.h"

namespace smx::ops {
namespace {

bool cpu_matmul_expected() {
  return cpu_matmul_built() && simd::cpu_has_avx512();
}

// x · w (+ b) in fp64 from the same (bf16) values.
at::Tensor product_reference(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b) {
  const at::Tensor y = at::matmul(x.to(at::kDouble), w.to(at::kDouble));
  if (!b.defined()) return y;
  return y + (b.dim() == 2 ? b.unsqueeze(1) : b).to(at::kDouble);  // [G, N]: a row per entry
}

struct ProductCase {
  std::string name;
  std::vector<int64_t> x_shape, w_shape;
  at::ScalarType dtype = at::kBFloat16;  // x, w and y
  at::ScalarType bias_dtype = at::kFloat;
  bool with_bias = true;
  bool transposed_w = false;  // w the transpose of a [..., N, K] tensor (unit stride on K's axis)
  bool transposed_x = false;  // x the transpose of a [..., K, M] tensor
  bool bias_rows = false;     // bias [G, N], a row per batch entry (else [N])
};

TEST(CpuMatmulTest, MatchesTheFp64ProductOfItsOperands) {
  if (!cpu_matmul_expected()) {
    GTEST_SKIP() << "no oneDNN in this build or no AVX-512 on this CPU";
  }
  const at::ScalarType bf16 = at::kBFloat16, fp32 = at::kFloat;
  const std::vector<ProductCase> cases = {
      {"bf16 + bias", {64, 96}, {96, 80}},
      {"bf16 odd sizes", {37, 48}, {48, 19}},  // partial tiles
      {"bf16 + bf16 bias", {32, 64}, {64, 48}, bf16, bf16},
      {"bf16 transposed w", {32, 64}, {64, 48}, bf16, fp32, true, true},
      {"fp32 + bias", {64, 96}, {96, 80}, fp32},
      {"fp32 router shape", {300, 64}, {64, 16}, fp32},  // [T, D] x [D, E]
      {"fp32 transposed w", {37, 48}, {48, 19}, fp32, fp32, true, true},
      {"fp32 batched", {6, 33, 16}, {6, 16, 40}, fp32, fp32, false},
      {"fp32 transposed x", {6, 33, 16}, {6, 16, 40}, fp32, fp32, false, false, true},
      {"bf16 q.k^T", {2, 3, 40, 16}, {2, 3, 16, 40}, bf16, fp32, false, true},  // [B, H, N, Dh]
      {"fp32 q.k^T", {2, 3, 40, 16}, {2, 3, 16, 40}, fp32, fp32, false, true},
      {"fp32 broadcast x", {1, 24, 24}, {5, 24, 32}, fp32, fp32, false},  // W_s [1, N, N] · Y
      {"bf16 broadcast x", {1, 24, 24}, {5, 24, 32}, bf16, fp32, false},
      {"bf16 experts", {4, 24, 64}, {4, 64, 96}, bf16, fp32, false},
      {"fp32 experts + bias", {3, 17, 96}, {3, 96, 40}, fp32, fp32, true, false, false, true},
      // Few rows: the thin kernel (ops/thin_matmul.h) where it applies, else oneDNN.
      {"fp32 thin experts", {4, 3, 70}, {4, 70, 1100}, fp32, fp32, false},  // K % 4, N % 16
      {"fp32 thin + rows", {4, 4, 64}, {4, 64, 1040}, fp32, fp32, true, false, false, true},
      {"fp32 thin 1 row", {1, 33}, {33, 1500}, fp32},
      {"fp32 thin bcast x", {1, 2, 48}, {3, 48, 600}, fp32, fp32, false},
      {"fp32 thin bcast w", {3, 2, 48}, {1, 48, 600}, fp32, fp32, false},
      {"fp32 thin transp. w", {4, 2, 48}, {4, 48, 600}, fp32, fp32, false, true},  // oneDNN
  };
  torch::NoGradGuard no_grad;
  for (const ProductCase& c : cases) {
    torch::manual_seed(0);
    const at::Tensor x = torch::randn(c.x_shape).to(c.dtype);
    at::Tensor w = (torch::randn(c.w_shape) * 0.2).to(c.dtype);
    if (c.transposed_w) w = w.transpose(-2, -1).contiguous().transpose(-2, -1);
    const at::Tensor x_used =
        c.transposed_x ? x.transpose(-2, -1).contiguous().transpose(-2, -1) : x;
    std::vector<int64_t> b_shape = {c.w_shape.back()};
    if (c.bias_rows) b_shape.insert(b_shape.begin(), c.w_shape.front());
    const at::Tensor b = c.with_bias ? torch::randn(b_shape).to(c.bias_dtype) : at::Tensor();
    const at::Tensor y = cpu_matmul(x_used, w, b);
    ASSERT_TRUE(y.defined()) << c.name << ": the oneDNN path declined";
    EXPECT_EQ(y.scalar_type(), c.dtype) << c.name;
    EXPECT_TRUE(y.is_contiguous()) << c.name;
    const at::Tensor want = product_reference(x, w, b);
    ASSERT_EQ(y.sizes(), want.sizes()) << c.name;
    // bf16: one rounding of the result (2^-8 relative); fp32: the accumulation's rounding.
    const double tolerance =
        (c.dtype == bf16 ? 8e-3 : 2e-6) * (1.0 + want.abs().max().item<double>());
    const double diff = smx::testing::max_abs_diff(y.to(at::kDouble), want);
    std::printf("    %-18s x %-15s w %-15s max|diff| %.3e (tolerance %.0e)\n", c.name.c_str(),
                c10::str(c10::IntArrayRef(c.x_shape)).c_str(),
                c10::str(c10::IntArrayRef(c.w_shape)).c_str(), diff, tolerance);
    EXPECT_LE(diff, tolerance) << c.name;
  }
}

// The thin kernel against oneDNN on the experts' products at a few slots each (its place in the
// models), with and without bias rows; and that it takes them at all.
TEST(CpuMatmulTest, ThinProductsMatchOneDnn) {
  if (!cpu_matmul_expected()) {
    GTEST_SKIP() << "no oneDNN in this build or no AVX-512 on this CPU";
  }
  torch::NoGradGuard no_grad;
  for (const int64_t rows : {1, 2, 3, 4}) {
    torch::manual_seed(rows);
    const at::Tensor x = torch::randn({16, rows, 64});
    const at::Tensor w = torch::randn({16, 64, 1024}) * 0.2;
    const at::Tensor b = torch::randn({16, 1024});
    for (const bool bias : {false, true}) {
      const at::Tensor use_b = bias ? b : at::Tensor();
      // Which kernel ran, by its profiler range: each side must be the one it claims.
      const auto calls_of = [](const bench::OpProfile& profile, const std::string& name) {
        int64_t calls = 0;
        for (const bench::OpTime& op : profile.ops)
          if (op.name == name) calls += op.calls;
        return calls;
      };
      at::Tensor thin, onednn;
      const bench::OpProfile with_thin =
          bench::profile_ops([&] { thin = cpu_matmul(x, w, use_b); });
      EXPECT_EQ(calls_of(with_thin, "smx::thin_matmul"), 1) << rows << " rows: thin did not run";
      set_thin_products(false);
      const bench::OpProfile without =
          bench::profile_ops([&] { onednn = cpu_matmul(x, w, use_b); });
      set_thin_products(true);
      EXPECT_EQ(calls_of(without, "smx::thin_matmul"), 0);
      EXPECT_EQ(calls_of(without, "smx::cpu_matmul"), 1) << rows << " rows: oneDNN did not run";
      ASSERT_TRUE(thin.defined() && onednn.defined());
      const double diff = smx::testing::max_abs_diff(thin, onednn);
      const double to_fp64 =
          smx::testing::max_abs_diff(thin.to(at::kDouble), product_reference(x, w, use_b));
      std::printf(
          "    [16, %ld, 64] x [16, 64, 1024]%s: thin vs oneDNN max|diff| %.3e, vs fp64 %.3e\n",
          static_cast<long>(rows), bias ? " + bias rows" : "", diff, to_fp64);
      EXPECT_LE(diff, 1e-4);
      EXPECT_LE(to_fp64, 1e-4);
    }
  }
}

// `out` a row range of a larger result (the MLP's row tiles): written there, the rest untouched.
TEST(CpuMatmulTest, WritesIntoARowRangeOfALargerResult) {
  if (!cpu_matmul_expected()) {
    GTEST_SKIP() << "no oneDNN in this build or no AVX-512 on this CPU";
  }
  torch::NoGradGuard no_grad;
  const at::Tensor x = torch::randn({16, 48}).to(at::kBFloat16);
  const at::Tensor w = (torch::randn({48, 24}) * 0.2).to(at::kBFloat16);
  const at::Tensor b = torch::randn({24});
  const at::Tensor big = torch::zeros({40, 24}, at::kBFloat16);
  const at::Tensor rows = big.narrow(0, 8, 16);
  const at::Tensor y = cpu_matmul(x, w, b, rows);
  ASSERT_TRUE(y.defined());
  EXPECT_EQ(y.data_ptr(), rows.data_ptr());
  const at::Tensor want = product_reference(x, w, b);
  const double diff = smx::testing::max_abs_diff(rows.to(at::kDouble), want);
  std::printf("    rows 8..23 of [40, 24]: max|diff| %.3e\n", diff);
  EXPECT_LE(diff, 8e-3 * (1.0 + want.abs().max().item<double>()));
  EXPECT_EQ(big.narrow(0, 0, 8).abs().sum().item<float>(), 0.0f);
  EXPECT_EQ(big.narrow(0, 24, 16).abs().sum().item<float>(), 0.0f);
  // An `out` of the wrong shape, dtype or layout is the caller's bug: an error naming it.
  EXPECT_THROW(cpu_matmul(x, w, b, big.narrow(0, 0, 15)), c10::Error);
  EXPECT_THROW(cpu_matmul(x, w, b, torch::empty({16, 24})), c10::Error);
  EXPECT_THROW(cpu_matmul(x, w, b, torch::empty({24, 16}, at::kBFloat16).t()), c10::Error);
}

TEST(CpuMatmulTest, DeclinesWhereTheAtenOpsMustRun) {
  const at::Tensor x = torch::randn({8, 16}).to(at::kBFloat16);
  const at::Tensor w = torch::randn({16, 4}).to(at::kBFloat16);
  const at::Tensor b = torch::randn({4});
  {
    torch::NoGradGuard no_grad;
    EXPECT_FALSE(cpu_matmul(x.to(at::kFloat), w, b).defined()) << "mixed dtypes";
    EXPECT_FALSE(cpu_matmul(x, w, b.view({1, 4})).defined()) << "bias rows for a 2-D product";
    EXPECT_FALSE(cpu_matmul(x.view({2, 4, 16}), w.expand({2, 16, 4}), b.expand({2, 4})).defined())
        << "bf16 with bias rows (ATen's baddbmm is faster)";
    EXPECT_FALSE(cpu_matmul(x.view({2, 4, 16}).to(at::kFloat), w.expand({2, 16, 4}).to(at::kFloat),
                            b.expand({3, 4}))
                     .defined())
        << "3 bias rows for 2 entries";
    EXPECT_FALSE(cpu_matmul(x.view({2, 4, 16}), w.expand({3, 16, 4})).defined())
        << "batch axes 2 and 3";
    EXPECT_FALSE(cpu_matmul(x.view({1, 1, 1, 8, 16}), w.view({1, 1, 1, 16, 4})).defined())
        << "rank 5";
    EXPECT_FALSE(cpu_matmul(x.narrow(0, 0, 0), w, b).defined()) << "no rows";
    EXPECT_FALSE(cpu_matmul(torch::randn({2, 8}), torch::randn({8, 2049}), {}).defined())
        << "fp32 wider than 2048 columns";
    EXPECT_FALSE(cpu_matmul(x.slice(1, 0, 16, 2), w.narrow(0, 0, 8), b).defined())
        << "no unit-stride axis in x";
    {  // bf16 autocast computes an fp32 product in bf16: ATen's addmm does that
      const AutocastScope scope(true, at::kCPU, AutocastCache::kClear);
      EXPECT_FALSE(cpu_matmul(x.to(at::kFloat), w.to(at::kFloat), b).defined()) << "autocast";
    }
    set_fused_kernels(false);
    EXPECT_FALSE(cpu_matmul(x, w, b).defined()) << "fused kernels off";
    set_fused_kernels(true);
    if (cpu_matmul_expected()) {
      EXPECT_TRUE(cpu_matmul(x, w, b).defined());
      EXPECT_TRUE(cpu_matmul(x.to(at::kFloat), w.to(at::kFloat), b).defined());
    }
  }
  // Gradients wanted: nothing would be saved for backward.
  EXPECT_FALSE(cpu_matmul(x, w.clone().requires_grad_(true), b).defined());
}

// A tiny Sparse Mixer (Linear mixing, attention, MoE, masked padding) in fp32 and bf16 inference:
// the oneDNN products against ATen's (and the other fused kernels off: the plain ATen model).
TEST(CpuMatmulTest, InferenceOfATinySparseMixerMatchesTheAtenModel) {
  if (!cpu_matmul_expected()) {
    GTEST_SKIP() << "no oneDNN in this build or no AVX-512 on this CPU";
  }
  ModelConfig c = smx::testing::tiny_config("linear", Padding::kMasked);
  const auto m = model::make_sparse_mixer(c, 7);
  m->eval();
  torch::manual_seed(8);
  const smx::testing::TinyBatch batch = smx::testing::tiny_padded_batch(c);
  torch::NoGradGuard no_grad;
  for (const bool bf16 : {false, true}) {
    const auto hidden = [&](bool fused) {
      set_fused_kernels(fused);
      const AutocastScope scope(bf16, at::kCPU, AutocastCache::kClear);
      at::Tensor h =
          m->forward(batch.ids, batch.types, batch.positions).encoder.hidden.to(at::kDouble);
      set_fused_kernels(true);
      return h;
    };
    at::Tensor onednn;
    const bench::OpProfile profile = bench::profile_ops([&] { onednn = hidden(true); });
    const at::Tensor aten = hidden(false);
    // The oneDNN path ran: projections, MLP outputs, routers, attention, Linear mixing.
    int64_t calls = 0;
    for (const bench::OpTime& op : profile.ops)
      if (op.name == "smx::cpu_matmul") calls += op.calls;
    EXPECT_GT(calls, 0);
    const double diff = smx::testing::max_abs_diff(onednn, aten);
    const double scale = aten.abs().max().item<double>();
    std::printf(
        "    tiny Sparse Mixer %s hidden: max|oneDNN - ATen| %.3e, max|hidden| %.2f "
        "(%lld products through oneDNN)\n",
        bf16 ? "bf16" : "fp32", diff, scale, static_cast<long long>(calls));
    EXPECT_LE(diff, (bf16 ? 0.05 : 1e-5) * scale);
  }
}

}  // namespace
}  // namespace smx::ops
