// CPU inference's matrix products through oneDNN (ops/cpu_matmul.h) against the ATen ops the
// layers run without it, at the Base models' shapes (8 x 512 tokens), with the caching allocator
// as in `smx bench` and serving. Run:
//   ./build/smx_bench --benchmark_filter=CpuMatmul --benchmark_repetitions=5
// Cases (first argument): 0-3 Dense layers with a bias, bf16 ([T, F] x [F, D] and [T, D] x
// [D, D], Sparse Mixer Base then BERT-Base); 4 the router's fp32 [T, 512] x [512, 16] + bias;
// 5 attention's fp32 q·kᵀ over one example ([12, 512, 64] x [12, 64, 512], kᵀ a transposed
// view); 6 Linear mixing's W_s [N, N] applied to [8, N, D] in bf16 (ATen: the materialised
// [8, N, N] copy and bmm); 7-10 the experts' products of a Sparse Mixer Base MoE layer (16 experts
// of 256 slots): [E, C, 512] x [E, 512, 2048] (bmm) and [E, C, 2048] x [E, 2048, 512] + a bias row
// per expert (baddbmm), bf16 then fp32; 11-13 the MLP's first product without its bias (the bias
// rides in ops::bias_gelu; ATen: mm): Sparse Mixer Base's [4096, 512] x [512, 2048] in bf16 and
// fp32, and BERT-Base's [4096, 768] x [768, 3072] in fp32, where oneDNN 2.6's fp32 kernel took
// 116 ms against the BLAS's 66: cpu_matmul now declines fp32 products wider than 2048 columns, and
// that row reports the decline. 14-19 products of a few rows, as at batch 1, with 8 sets of
// weights used in turn so that each call reads its weights from memory, as a model's layers do
// (ops/thin_matmul.h): the experts' [16, 4, 512] x [16, 512, 2048] in bf16 (oneDNN either way)
// and in fp32, their [16, 4, 2048] x [16, 2048, 512] + a bias row per expert in fp32, Sparse Mixer
// Base's MLP products at 4 tokens in fp32 ([4, 512] x [512, 2048], [4, 2048] x [2048, 512] + bias),
// and the first experts' product at 8 slots in fp32 (above the thin kernel's 4 rows). Second
// argument: 0 = ATen, 1 = cpu_matmul through oneDNN (thin products off), 2 = cpu_matmul as the
// models run it (cases 14-19 only).

#include <vector>

#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include "smx/core/caching_allocator.h"
#include "smx/ops/cpu_matmul.h"

namespace {

constexpr int64_t kTokens = 8 * 512;

struct Operands {
  at::Tensor x, w, bias;
};

Operands operands(int64_t which) {
  const auto bf16 = [](at::Tensor t) { return t.to(at::kBFloat16); };
  switch (which) {
    case 0:
      return {bf16(torch::randn({kTokens, 2048})), bf16(torch::randn({2048, 512})),
              torch::randn({512})};
    case 1:
      return {bf16(torch::randn({kTokens, 512})), bf16(torch::randn({512, 512})),
              torch::randn({512})};
    case 2:
      return {bf16(torch::randn({kTokens, 3072})), bf16(torch::randn({3072, 768})),
              torch::randn({768})};
    case 3:
      return {bf16(torch::randn({kTokens, 768})), bf16(torch::randn({768, 768})),
              torch::randn({768})};
    case 4:
      return {torch::randn({kTokens, 512}), torch::randn({512, 16}), torch::randn({16})};
    case 5:
      return {torch::randn({12, 512, 64}), torch::randn({12, 512, 64}).transpose(1, 2), {}};
    case 6:
      return {bf16(torch::randn({1, 512, 512})), bf16(torch::randn({8, 512, 512})), {}};
    case 7:
      return {bf16(torch::randn({16, 256, 512})), bf16(torch::randn({16, 512, 2048})), {}};
    case 8:
      return {bf16(torch::randn({16, 256, 2048})), bf16(torch::randn({16, 2048, 512})),
              torch::randn({16, 512})};
    case 9:
      return {torch::randn({16, 256, 512}), torch::randn({16, 512, 2048}), {}};
    case 10:
      return {torch::randn({16, 256, 2048}), torch::randn({16, 2048, 512}),
              torch::randn({16, 512})};
    case 11:
      return {bf16(torch::randn({kTokens, 512})), bf16(torch::randn({512, 2048})), {}};
    case 12:
      return {torch::randn({kTokens, 512}), torch::randn({512, 2048}), {}};
    case 13:
      return {torch::randn({kTokens, 768}), torch::randn({768, 3072}), {}};
    case 14:
      return {bf16(torch::randn({16, 4, 512})), bf16(torch::randn({16, 512, 2048})), {}};
    case 15:
      return {torch::randn({16, 4, 512}), torch::randn({16, 512, 2048}), {}};
    case 16:
      return {torch::randn({16, 4, 2048}), torch::randn({16, 2048, 512}), torch::randn({16, 512})};
    case 17:
      return {torch::randn({4, 512}), torch::randn({512, 2048}), {}};
    case 18:
      return {torch::randn({4, 2048}), torch::randn({2048, 512}), torch::randn({512})};
    default:
      return {torch::randn({16, 8, 512}), torch::randn({16, 512, 2048}), {}};
  }
}

constexpr int64_t kThinFirst = 14, kWeightSets = 8;

// The ATen op each layer runs without cpu_matmul.
at::Tensor aten_product(int64_t which, const Operands& o) {
  if (which <= 3) return at::addmm(o.bias.to(at::kBFloat16), o.x, o.w);  // bias in the GEMM dtype
  if (which == 4 || which == 18) return at::addmm(o.bias, o.x, o.w);
  if (which == 16) return at::baddbmm(o.bias.unsqueeze(1), o.x, o.w);
  if (which >= 14) return at::matmul(o.x, o.w);
  if (which >= 11) return at::mm(o.x, o.w);
  if (which == 5 || which == 7 || which == 9) return at::bmm(o.x, o.w);
  if (which == 6) return at::bmm(o.x.expand({o.w.size(0), -1, -1}).contiguous(), o.w);
  return at::baddbmm(o.bias.to(o.x.scalar_type()).unsqueeze(1), o.x, o.w);
}

void BM_CpuMatmul(benchmark::State& state) {
  const int64_t which = state.range(0), path = state.range(1);
  smx::enable_caching_cpu_allocator();
  std::vector<Operands> sets = {operands(which)};
  if (which >= kThinFirst)
    for (int64_t i = 1; i < kWeightSets; ++i)
      sets.push_back({sets[0].x, sets[0].w.clone(), sets[0].bias});
  torch::NoGradGuard no_grad;
  smx::ops::set_thin_products(path == 2);
  if (path != 0 && !smx::ops::cpu_matmul(sets[0].x, sets[0].w, sets[0].bias).defined()) {
    state.SkipWithError("cpu_matmul declines this product (ops/cpu_matmul.h)");
    smx::ops::set_thin_products(true);
    return;
  }
  size_t next = 0;
  for (auto _ : state) {
    const Operands& o = sets[next];
    next = (next + 1) % sets.size();
    benchmark::DoNotOptimize(path != 0 ? smx::ops::cpu_matmul(o.x, o.w, o.bias)
                                       : aten_product(which, o));
  }
  smx::ops::set_thin_products(true);
  const at::Tensor y = aten_product(which, sets[0]);
  const double flop =
      2.0 * static_cast<double>(y.numel()) * static_cast<double>(sets[0].x.size(-1));
  state.counters["GFLOP/s"] = benchmark::Counter(
      flop * static_cast<double>(state.iterations()) / 1e9, benchmark::Counter::kIsRate);
  double bytes = 0;
  for (const at::Tensor& t : {sets[0].x, sets[0].w})
    bytes += static_cast<double>(t.numel() * t.element_size());
  state.counters["GB/s"] = benchmark::Counter(bytes * static_cast<double>(state.iterations()) / 1e9,
                                              benchmark::Counter::kIsRate);
}

}  // namespace

BENCHMARK(BM_CpuMatmul)
    ->ArgNames({"case", "path"})
    ->ArgsProduct({{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13}, {0, 1}})
    ->ArgsProduct({{14, 15, 16, 17, 18, 19}, {0, 1, 2}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
