// An MoE layer against a dense MLP doing the same useful FLOPs (docs/design.md §6.2): Sparse Mixer
// Base shapes, T = 8 x 512 tokens in one routing group, D = 512, E = 16 experts of F = 2048 at
// capacity factor 1 (E·C = T slots, 4·D·F FLOPs each), vs Mlp(512, 2048) on the same T tokens.
// Target: MoE <= 1.2x the MLP's time. Run: ./build/smx_bench --benchmark_filter=Layer
// Arg 0 = fp32, 1 = bf16 (autocast, router in fp32).
#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include "smx/bench/precision.h"
#include "smx/config/model_config.h"
#include "smx/core/autocast.h"
#include "smx/model/mlp.h"
#include "smx/model/moe_layer.h"

namespace {

constexpr int64_t kBatch = 8, kSeq = 512;

smx::ModelConfig sm_base() {
  return smx::load_model_config("sparse-mixer-base");
}

smx::bench::Precision precision_of(const benchmark::State& state) {
  return state.range(0) == 1 ? smx::bench::Precision::kBf16 : smx::bench::Precision::kFp32;
}

void set_counters(benchmark::State& state, double flops_per_iteration) {
  state.counters["GFLOP/s"] = benchmark::Counter(flops_per_iteration / 1e9 * state.iterations(),
                                                 benchmark::Counter::kIsRate);
}

double useful_flops(const smx::ModelConfig& c) {
  return 4.0 * kBatch * kSeq * c.d_model * c.expert_d_ff;
}

void BM_MoeLayerForward(benchmark::State& state) {
  const smx::ModelConfig c = sm_base();
  torch::manual_seed(0);
  smx::model::MoeLayer moe(c);
  moe.eval();
  const at::Tensor x = torch::randn({kBatch, kSeq, c.d_model});
  torch::NoGradGuard no_grad;
  const smx::AutocastScope scope(precision_of(state) == smx::bench::Precision::kBf16, at::kCPU,
                                 smx::AutocastCache::kKeep);
  for (auto _ : state) benchmark::DoNotOptimize(moe.forward(x, {}).output);
  smx::clear_autocast_cache();
  set_counters(state, useful_flops(c));
}

void BM_DenseMlpForward(benchmark::State& state) {
  const smx::ModelConfig c = sm_base();
  torch::manual_seed(0);
  smx::model::Mlp mlp(c.d_model, c.expert_d_ff, c.dropout_rate);
  mlp.eval();
  const at::Tensor x = torch::randn({kBatch, kSeq, c.d_model});
  torch::NoGradGuard no_grad;
  const smx::AutocastScope scope(precision_of(state) == smx::bench::Precision::kBf16, at::kCPU,
                                 smx::AutocastCache::kKeep);
  for (auto _ : state) benchmark::DoNotOptimize(mlp.forward(x));
  smx::clear_autocast_cache();
  set_counters(state, useful_flops(c));
}

// Forward + backward (training mode, dropout on), 3x the forward FLOPs.
void BM_MoeLayerTrain(benchmark::State& state) {
  const smx::ModelConfig c = sm_base();
  torch::manual_seed(0);
  smx::model::MoeLayer moe(c);
  moe.train();
  const at::Tensor x = torch::randn({kBatch, kSeq, c.d_model}).requires_grad_();
  for (auto _ : state) {
    // Dropped casts on exit, as after an optimizer step.
    const smx::AutocastScope scope(precision_of(state) == smx::bench::Precision::kBf16, at::kCPU);
    const smx::model::MoeOutput out = moe.forward(x, {});
    (out.output.to(torch::kFloat).sum() + out.z_loss).backward();
  }
  set_counters(state, 3 * useful_flops(c));
}

void BM_DenseMlpTrain(benchmark::State& state) {
  const smx::ModelConfig c = sm_base();
  torch::manual_seed(0);
  smx::model::Mlp mlp(c.d_model, c.expert_d_ff, c.dropout_rate);
  mlp.train();
  const at::Tensor x = torch::randn({kBatch, kSeq, c.d_model}).requires_grad_();
  for (auto _ : state) {
    // Dropped casts on exit, as after an optimizer step.
    const smx::AutocastScope scope(precision_of(state) == smx::bench::Precision::kBf16, at::kCPU);
    mlp.forward(x).to(torch::kFloat).sum().backward();
  }
  set_counters(state, 3 * useful_flops(c));
}

}  // namespace

BENCHMARK(BM_DenseMlpForward)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_MoeLayerForward)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_DenseMlpTrain)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_MoeLayerTrain)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();
