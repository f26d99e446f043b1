// A fused kernel against the ATen ops it replaces, at one Sparse Mixer Base MLP's shape (8 x 512
// tokens, F = 2048, bf16): bias + tanh-GELU (ops/bias_gelu.h), and the bf16 GEMM before it for
// scale; its backward; and counter-based dropout (ops/dropout.h) against ATen's at the MLP output's
// shape [8 x 512, 512]. Run: ./build/smx_bench --benchmark_filter='Gelu|Dropout'

#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include "smx/ops/bias_gelu.h"
#include "smx/ops/dropout.h"

namespace {

constexpr int64_t kOpTokens = 8 * 512, kOpD = 512, kOpF = 2048;

void BM_BiasGeluFused(benchmark::State& state) {
  const at::Tensor x = torch::randn({kOpTokens, kOpF}).to(at::kBFloat16);
  const at::Tensor b = torch::randn({kOpF});
  torch::NoGradGuard no_grad;
  for (auto _ : state) benchmark::DoNotOptimize(smx::ops::bias_gelu(x, b));
  state.counters["GB/s"] = benchmark::Counter(4.0 * kOpTokens * kOpF * state.iterations() / 1e9,
                                              benchmark::Counter::kIsRate);
}

// Backward alone: the gradients of x and the bias from a saved forward (bf16 in, bf16 out).
void BM_BiasGeluFusedBackward(benchmark::State& state) {
  const at::Tensor x = torch::randn({kOpTokens, kOpF}).to(at::kBFloat16).requires_grad_(true);
  const at::Tensor b = torch::randn({kOpF}).requires_grad_(true);
  const at::Tensor g = torch::randn({kOpTokens, kOpF}).to(at::kBFloat16);
  for (auto _ : state) {
    state.PauseTiming();
    const at::Tensor y = smx::ops::bias_gelu(x, b);
    state.ResumeTiming();
    benchmark::DoNotOptimize(torch::autograd::grad({y}, {x, b}, {g}));
  }
  state.counters["GB/s"] = benchmark::Counter(6.0 * kOpTokens * kOpF * state.iterations() / 1e9,
                                              benchmark::Counter::kIsRate);
}

void BM_DropoutCounterBased(benchmark::State& state) {
  const at::Tensor x = torch::randn({kOpTokens, kOpD}).to(at::kBFloat16);
  torch::NoGradGuard no_grad;
  for (auto _ : state)
    benchmark::DoNotOptimize(smx::ops::dropout(x, {0.1, smx::ops::draw_dropout_seed()}));
  state.counters["GB/s"] = benchmark::Counter(4.0 * kOpTokens * kOpD * state.iterations() / 1e9,
                                              benchmark::Counter::kIsRate);
}

void BM_DropoutAten(benchmark::State& state) {  // bernoulli_ mask, then the multiply
  const at::Tensor x = torch::randn({kOpTokens, kOpD}).to(at::kBFloat16);
  torch::NoGradGuard no_grad;
  for (auto _ : state) benchmark::DoNotOptimize(at::dropout(x, 0.1, true));
}

void BM_BiasGeluAtenOps(benchmark::State& state) {  // bias add, then LibTorch's tanh-GELU
  const at::Tensor x = torch::randn({kOpTokens, kOpF}).to(at::kBFloat16);
  const at::Tensor b = torch::randn({kOpF}).to(at::kBFloat16);
  torch::NoGradGuard no_grad;
  for (auto _ : state) benchmark::DoNotOptimize(at::gelu(x + b, "tanh"));
}

void BM_GeluGemmBefore(benchmark::State& state) {  // [T, D] x [D, F] bf16, the GEMM feeding it
  const at::Tensor a = torch::randn({kOpTokens, kOpD}).to(at::kBFloat16);
  const at::Tensor w = torch::randn({kOpD, kOpF}).to(at::kBFloat16);
  torch::NoGradGuard no_grad;
  for (auto _ : state) benchmark::DoNotOptimize(at::mm(a, w));
  state.counters["GFLOP/s"] = benchmark::Counter(
      2.0 * kOpTokens * kOpD * kOpF * state.iterations() / 1e9, benchmark::Counter::kIsRate);
}

}  // namespace

BENCHMARK(BM_BiasGeluFused)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_BiasGeluFusedBackward)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_DropoutCounterBased)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_DropoutAten)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_BiasGeluAtenOps)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_GeluGemmBefore)->Unit(benchmark::kMillisecond)->UseRealTime();
