// `smx bench --serving`: small requests (docs/design.md §7.1-7.2 serving settings: `masked`
// padding, `sequence` groups, eval mode). Latency at batch 1 and throughput at batch 8/32 for short
// inputs, fp32 and bf16, each beside its memory-traffic floor: the bytes of weights one call reads
// (experts that ran only, each tensor at its stored dtype) over this machine's measured read
// bandwidth. Cases are interleaved repeat by repeat in one process, like the Table 8 runner.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "smx/bench/precision.h"
#include "smx/bench/stats.h"
#include "smx/config/model_config.h"
#include "smx/model/sparse_mixer.h"

namespace smx::bench {

// Best-of-`repeats` streaming bandwidth over a buffer of `bytes` (far larger than the caches).
struct MemoryBandwidth {
  int64_t bytes = 0;
  double read_gbps = 0;  // at::sum over the buffer: bytes / best time
  double copy_gbps = 0;  // at::copy_ of half the buffer into the other half: 2 x half / best time
};
MemoryBandwidth measure_memory_bandwidth(int64_t bytes, int repeats = 3);

// Bytes of weights one eval forward (encoder, pooler, classification head; no MLM head) of
// `batch` x `seq_len` tokens reads from `model`, each parameter at its current dtype: embedding
// tables only the rows it can touch (min(batch·seq_len, vocab) word rows, seq_len position rows,
// every type row), Linear mixing's W_s only its top-left seq_len x seq_len block, each MoE layer's
// expert tensors only for the experts that ran (`active_experts`, one count per MoE layer in module
// order as model::active_experts_per_layer gives; empty = all experts), everything else whole.
int64_t weight_bytes_read(const model::SparseMixer& model, int64_t batch, int64_t seq_len,
                          const std::vector<int64_t>& active_experts);

// The floor in ms: bytes / (GB/s).
double traffic_floor_ms(int64_t bytes, double gbps);

// One row: a model at a precision with serving-time settings, at one input shape.
struct ServingCase {
  std::string model;    // label of the model (its config name)
  std::string variant;  // "" for the main table; what an ablation row changes
  ModelConfig config;   // with padding = masked, routing_groups = sequence
  Precision precision = Precision::kFp32;
  bool bf16_weights = false;  // GEMM weights converted to bf16 at load (model/serving_weights.h)
  bool skip_empty_experts = true;         // model::MoeLayer::skip_empty_experts
  int64_t eval_min_expert_capacity = -1;  // -1: the config's
  int64_t tokens = 0;                     // real tokens per input (no pads in the batch)
  int64_t batch = 1;
};

struct ServingOptions {
  std::vector<std::string> configs = {"bert-base", "sparse-mixer-base", "fast-sparse-mixer-base"};
  std::vector<std::string> overrides;  // --set key=value, after padding / routing_groups
  std::vector<int64_t> lengths = {8, 32, 128};
  std::vector<int64_t> batches = {1, 8, 32};
  std::vector<Precision> precisions = {Precision::kFp32, Precision::kBf16};
  bool ablation = false;  // adds the before/after rows (bf16 autocast, capacity rule, skip)
  int repeats = 3;
  int warmup = 1;
  int threads = 0;
  int64_t bandwidth_bytes = int64_t{1} << 30;
  uint64_t seed = 0;
  std::function<void(const std::string&)> progress;  // may be empty
};

// The options of `--quick`: lengths 8 and 32, batches 1 and 8, 1 repeat, a 512 MiB buffer.
ServingOptions quick_serving_options(ServingOptions options);

// The rows a run measures: the main table (every config x precision x length x batch), then with
// `ablation` the before/after rows at batch 1.
std::vector<ServingCase> serving_cases(const ServingOptions& options);

struct ServingResult {
  ServingCase spec;
  Stats ms;                    // per call
  int64_t weight_bytes = 0;    // weights read per call (weight_bytes_read)
  int64_t active_experts = 0;  // experts that ran, summed over MoE layers (0 without MoE)
  int64_t total_experts = 0;   // E x MoE layers
  int64_t resident_bytes = 0;  // the model's parameters at their dtypes
  int64_t rss_bytes = 0;       // process RSS growth from building (and converting) the model
};

struct ServingReport {
  std::string cpu_model;
  int cores = 0, threads = 0;
  int repeats = 0, warmup = 0;
  MemoryBandwidth bandwidth;
  std::vector<ServingResult> rows;
  // Process RSS once every model is built, and after the warm-up round (where autocast rows over
  // fp32 weights add their bf16 weight copies, model/compute_weights.h).
  int64_t rss_after_build = 0, rss_after_warmup = 0;
  double wall_seconds = 0;
};

ServingReport run_serving_bench(const ServingOptions& options);

// The table: one line per row (model, variant, dtype, weights, tokens, batch, min / median ms,
// sequences/s, MB read, experts run, floor ms, median / floor), under a header naming the CPU,
// threads and bandwidth.
std::string format_serving_report(const ServingReport& report);
nlohmann::json to_json(const ServingReport& report);

}  // namespace smx::bench
