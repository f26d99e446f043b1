// Self-attention at BERT-Base shapes (B = 8, N = 512, D = 768, H = 12), forward + backward: the
// SelfAttention module against the formulation it replaced (scale applied to the [N, N] logits,
// padding mask applied even when there is no padding). Same process, so the ratio is fair (one
// command line):
//   ./build/smx_bench --benchmark_filter=Attention --benchmark_repetitions=5
//       --benchmark_enable_random_interleaving=true
#include <cmath>
#include <limits>

#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include "smx/core/autocast.h"
#include "smx/core/caching_allocator.h"
#include "smx/model/attention.h"

namespace {

constexpr int64_t kB = 8, kN = 512, kD = 768, kH = 12;

// The previous formulation, kept here as the baseline.
at::Tensor previous_attention(smx::model::SelfAttention& a, const smx::model::MixingInput& in) {
  const at::Tensor& x = in.x;
  const int64_t Dh = kD / kH;
  auto heads = [&](const at::Tensor& t) { return t.view({kB, kN, kH, Dh}).transpose(1, 2); };
  auto dense = [](const smx::model::Dense& d, const at::Tensor& t) {
    return at::linear(t, d.kernel.t(), d.bias);
  };
  const at::Tensor q = heads(dense(*a.query, x)), k = heads(dense(*a.key, x)),
                   v = heads(dense(*a.value, x));
  at::Tensor logits = at::matmul(q, k.transpose(-2, -1)) / std::sqrt(static_cast<double>(Dh));
  const at::Tensor mask = (in.valid.unsqueeze(2) & in.valid.unsqueeze(1)).unsqueeze(1);
  logits = logits.masked_fill(mask.logical_not(), std::numeric_limits<float>::lowest());
  at::Tensor probs = at::softmax(logits, -1);
  const at::Tensor drop = at::bernoulli(at::full({1, 1, kN, kN}, 0.9, probs.options())) / 0.9;
  probs = probs * drop;
  return dense(*a.out, at::matmul(probs, v).transpose(1, 2).reshape({kB, kN, kD}));
}

template <bool kPrevious>
void BM_AttentionTrain(benchmark::State& state) {
  torch::manual_seed(0);
  smx::model::SelfAttention attention(kD, kH, 0.1);
  attention.train();
  const at::Tensor x = torch::randn({kB, kN, kD}).requires_grad_();
  const at::Tensor valid = torch::ones({kB, kN}, torch::kBool);
  for (auto _ : state) {
    const at::Tensor y = kPrevious ? previous_attention(attention, {x, valid})
                                   : attention.forward({x, valid, /*has_pads=*/false});
    y.sum().backward();
  }
}

// Inference in bf16, the batch in chunks whose scores fit range(0) MiB (0: the whole batch at
// once), at BERT-Base's width (range(1) = 0: D 768, 12 heads) or Sparse Mixer Base's (1: D 512,
// 8 heads): where the [H, N, N] scores stop fitting in cache. With the caching allocator, as
// `smx bench` runs models (else every 48 MiB scores tensor is a fresh mmap whose page faults
// would dominate the whole-batch case).
void BM_AttentionInference(benchmark::State& state) {
  smx::enable_caching_cpu_allocator();
  const int64_t D = state.range(1) == 0 ? 768 : 512, H = state.range(1) == 0 ? 12 : 8;
  torch::manual_seed(0);
  smx::model::SelfAttention attention(D, H, 0.1);
  attention.eval();
  attention.inference_scores_bytes = state.range(0) << 20;
  const at::Tensor x = torch::randn({kB, kN, D});
  const at::Tensor valid = torch::ones({kB, kN}, torch::kBool);
  torch::NoGradGuard no_grad;
  const smx::AutocastScope bf16(true, at::kCPU);
  for (auto _ : state) attention.forward({x, valid, /*has_pads=*/false});
}

}  // namespace

BENCHMARK(BM_AttentionInference)
    ->ArgsProduct({{0, 4, 8, 16}, {0, 1}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_TEMPLATE(BM_AttentionTrain, true)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_TEMPLATE(BM_AttentionTrain, false)->Unit(benchmark::kMillisecond)->UseRealTime();
