// bf16 GEMMs with the bias in oneDNN's epilogue (ops/fused_linear.h) against ATen's addmm (the
// bias copied into the output first), at the Base models' inference shapes (8 x 512 tokens): the
// MLP output product and an attention projection of Sparse Mixer Base (D = 512, F = 2048) and of
// BERT-Base (D = 768, F = 3072), with the caching allocator as in `smx bench` and serving. Run:
//   ./build/smx_bench --benchmark_filter=LinearBias --benchmark_repetitions=5
// Arguments: {K, N, fused}.

#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include "smx/core/caching_allocator.h"
#include "smx/ops/fused_linear.h"

namespace {

constexpr int64_t kTokens = 8 * 512;

void BM_LinearBias(benchmark::State& state) {
  const int64_t K = state.range(0), N = state.range(1);
  const bool fused = state.range(2) != 0;
  smx::enable_caching_cpu_allocator();
  const at::Tensor x = torch::randn({kTokens, K}).to(at::kBFloat16);
  const at::Tensor w = (torch::randn({K, N}) * 0.05).to(at::kBFloat16);
  const at::Tensor b = torch::randn({N});
  const at::Tensor b16 = b.to(at::kBFloat16);  // addmm's bias is in the GEMM's dtype
  torch::NoGradGuard no_grad;
  if (fused && !smx::ops::fused_linear(x, w, b).defined()) {
    state.SkipWithError("the fused path does not apply here (no oneDNN or no AVX-512)");
    return;
  }
  for (auto _ : state)
    benchmark::DoNotOptimize(fused ? smx::ops::fused_linear(x, w, b) : at::addmm(b16, x, w));
  const double flop = 2.0 * static_cast<double>(kTokens * K * N);
  state.counters["GFLOP/s"] = benchmark::Counter(
      flop * static_cast<double>(state.iterations()) / 1e9, benchmark::Counter::kIsRate);
}

}  // namespace

BENCHMARK(BM_LinearBias)
    ->ArgNames({"K", "N", "fused"})
    ->Args({2048, 512, 0})
    ->Args({2048, 512, 1})
    ->Args({512, 512, 0})
    ->Args({512, 512, 1})
    ->Args({3072, 768, 0})
    ->Args({3072, 768, 1})
    ->Args({768, 768, 0})
    ->Args({768, 768, 1})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
