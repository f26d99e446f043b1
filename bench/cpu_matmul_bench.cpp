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
// that row reports the decline. Second argument: 1 = cpu_matmul, 0 = ATen.

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
    default:
      return {torch::randn({kTokens, 768}), torch::randn({768, 3072}), {}};
  }
}

// The ATen op each layer runs without cpu_matmul.
at::Tensor aten_product(int64_t which, const Operands& o) {
  if (which <= 3) return at::addmm(o.bias.to(at::kBFloat16), o.x, o.w);  // bias in the GEMM dtype
  if (which == 4) return at::addmm(o.bias, o.x, o.w);
  if (which >= 11) return at::mm(o.x, o.w);
  if (which == 5 || which == 7 || which == 9) return at::bmm(o.x, o.w);
  if (which == 6) return at::bmm(o.x.expand({o.w.size(0), -1, -1}).contiguous(), o.w);
  return at::baddbmm(o.bias.to(o.x.scalar_type()).unsqueeze(1), o.x, o.w);
}

void BM_CpuMatmul(benchmark::State& state) {
  const int64_t which = state.range(0);
  const bool onednn = state.range(1) != 0;
  smx::enable_caching_cpu_allocator();
  const Operands o = operands(which);
  torch::NoGradGuard no_grad;
  if (onednn && !smx::ops::cpu_matmul(o.x, o.w, o.bias).defined()) {
    state.SkipWithError("cpu_matmul declines this product (ops/cpu_matmul.h)");
    return;
  }
  for (auto _ : state)
    benchmark::DoNotOptimize(onednn ? smx::ops::cpu_matmul(o.x, o.w, o.bias)
                                    : aten_product(which, o));
  const at::Tensor y = aten_product(which, o);
  const double flop = 2.0 * static_cast<double>(y.numel()) * static_cast<double>(o.x.size(-1));
  state.counters["GFLOP/s"] = benchmark::Counter(
      flop * static_cast<double>(state.iterations()) / 1e9, benchmark::Counter::kIsRate);
}

}  // namespace

BENCHMARK(BM_CpuMatmul)
    ->ArgNames({"case", "onednn"})
    ->ArgsProduct({{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13}, {0, 1}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
