// A fused kernel against the ATen ops it replaces, at one Sparse Mixer Base MLP's shape (8 x 512
// tokens, F = 2048, bf16): bias + tanh-GELU (ops/bias_gelu.h), and the bf16 GEMM before it for
// scale; its backward; and counter-based dropout (ops/dropout.h) against ATen's at the MLP output's
// shape [8 x 512, 512]; the MLM loss over [8 x 80, 32000] bf16 logits (ops/cross_entropy.h) against
// ATen's cast + cross_entropy + argmax; add & LayerNorm (ops/add_layer_norm.h) at [8 x 512, 512]
// bf16, forward as in inference and with the dropout mask drawn inside the pass as in training, and
// the backward pass with dropout.
// Run:
//   ./build/smx_bench --benchmark_filter='Gelu|Dropout|CrossEntropy|AddLayerNorm'

#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include "smx/ops/add_layer_norm.h"
#include "smx/ops/bias_gelu.h"
#include "smx/ops/cross_entropy.h"
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

// LayerNorm(dropout(x) + residual), bf16 in and out, no gradients: `kDropout` false as in
// inference, true as a training step's forward draws its mask.
template <bool kDropout>
void BM_AddLayerNorm(benchmark::State& state) {
  const at::Tensor x = torch::randn({kOpTokens, kOpD}).to(at::kBFloat16);
  const at::Tensor r = torch::randn({kOpTokens, kOpD}).to(at::kBFloat16);
  const at::Tensor scale = torch::rand({kOpD}) + 0.5, bias = torch::randn({kOpD});
  torch::NoGradGuard no_grad;
  for (auto _ : state) {
    const smx::ops::FusedDropout dropout =
        kDropout ? smx::ops::FusedDropout{0.1, smx::ops::draw_dropout_seed()}
                 : smx::ops::FusedDropout{};
    benchmark::DoNotOptimize(
        smx::ops::add_layer_norm(x, r, scale, bias, 1e-12, at::kBFloat16, dropout));
  }
  state.counters["GB/s"] = benchmark::Counter(6.0 * kOpTokens * kOpD * state.iterations() / 1e9,
                                              benchmark::Counter::kIsRate);
}

// Backward alone, with dropout as in training: the gradients of x, the residual, scale and bias
// from a saved forward (bf16 in and out).
void BM_AddLayerNormBackward(benchmark::State& state) {
  const at::Tensor x = torch::randn({kOpTokens, kOpD}).to(at::kBFloat16).requires_grad_(true);
  const at::Tensor r = torch::randn({kOpTokens, kOpD}).to(at::kBFloat16).requires_grad_(true);
  const at::Tensor scale = (torch::rand({kOpD}) + 0.5).requires_grad_(true);
  const at::Tensor bias = torch::randn({kOpD}).requires_grad_(true);
  const at::Tensor g = torch::randn({kOpTokens, kOpD}).to(at::kBFloat16);
  for (auto _ : state) {
    state.PauseTiming();
    const at::Tensor y = smx::ops::add_layer_norm(x, r, scale, bias, 1e-12, at::kBFloat16,
                                                  {0.1, smx::ops::draw_dropout_seed()});
    state.ResumeTiming();
    benchmark::DoNotOptimize(torch::autograd::grad({y}, {x, r, scale, bias}, {g}));
  }
}

constexpr int64_t kMlmRows = 8 * 80, kVocab = 32000;

// Forward, backward and the accuracy count of the MLM loss, as the trainer runs them.
template <bool kFused>
void BM_CrossEntropy(benchmark::State& state) {
  const at::Tensor logits = torch::randn({kMlmRows, kVocab}).to(at::kBFloat16).requires_grad_(true);
  const at::Tensor labels = torch::randint(0, kVocab, {kMlmRows});
  for (auto _ : state) {
    if (kFused) {
      const smx::ops::CrossEntropy ce = smx::ops::cross_entropy(logits, labels);
      benchmark::DoNotOptimize(torch::autograd::grad({ce.loss.sum()}, {logits}));
      benchmark::DoNotOptimize(ce.top1.sum().item<int64_t>());
    } else {
      const at::Tensor x = logits.to(at::kFloat);
      const at::Tensor loss = at::cross_entropy_loss(x, labels, {}, at::Reduction::None);
      benchmark::DoNotOptimize(torch::autograd::grad({loss.sum()}, {logits}));
      torch::NoGradGuard no_grad;
      benchmark::DoNotOptimize(x.argmax(-1).eq(labels).sum().item<int64_t>());
    }
  }
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
BENCHMARK_TEMPLATE(BM_CrossEntropy, true)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_TEMPLATE(BM_CrossEntropy, false)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_TEMPLATE(BM_AddLayerNorm, false)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_TEMPLATE(BM_AddLayerNorm, true)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_AddLayerNormBackward)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_BiasGeluAtenOps)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_GeluGemmBefore)->Unit(benchmark::kMillisecond)->UseRealTime();
