// The bench runner behind `smx bench`: builds every case's model once, then measures eval
// inference and full pre-training steps (forward + backward + AdamW) in one process, cases
// interleaved within each repeat after a warm-up, and summarises ms/example as median [min-max].
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "smx/bench/gemm_peak.h"
#include "smx/bench/op_profile.h"
#include "smx/bench/precision.h"
#include "smx/bench/stats.h"
#include "smx/config/model_config.h"

namespace smx::bench {

// One row of a table: a model config at a sequence length, optionally with padded examples.
struct BenchCase {
  std::string label;
  ModelConfig config;
  int64_t seq_len = 0;      // padded length N; 0 = BenchOptions::seq_len
  int64_t real_length = 0;  // real tokens per example (the rest are pad_id); 0 = N
  bool fused = true;        // false: plain ATen ops instead of smx's kernels (ops/fused_kernels.h)
  // false: plain autocast under --dtype bf16 (no bf16 weight copies, fp32 LayerNorm outputs;
  // model/compute_weights.h)
  bool bf16_end_to_end = true;
};

struct BenchOptions {
  std::string device = "cpu";  // "cpu", "cuda", "cuda:N": models, batches and autocast there
  int64_t seq_len = 512;
  int64_t batch = 8;
  Precision precision = Precision::kFp32;
  int threads = 0;  // 0 = every core
  int repeats = 5;  // the CLI's default too (bench/README.md: why 5)
  int warmup = 1;
  bool inference = true;
  bool training = true;
  uint64_t seed = 0;
  bool caching_allocator = true;  // smx::enable_caching_cpu_allocator() before building models
  // Run cases one after another instead of interleaved when their training state (weights,
  // gradients, AdamW moments) exceeds this many bytes together; 0 = 60% of MemAvailable.
  int64_t memory_budget_bytes = 0;
  bool profile = false;  // after the repeats, one more step of each case under the op profiler
  std::function<void(const std::string&)> progress;  // one line per phase; may be empty
  // Processes sharing the memory budget (2 with the PyTorch peer, which holds the same models).
  int processes = 1;
  // Called right after every smx step (warm-up included) of case `case_index` (into the case
  // list) with its wall seconds: `smx bench --peer` runs the peer's step of the same case there,
  // so each smx-vs-peer ratio compares neighbouring measurements. May be empty.
  std::function<void(size_t case_index, bool training, bool timed, double seconds)> after_step;
  // Called when a case is done and its model dropped (cases one after another); may be empty.
  std::function<void(size_t case_index)> after_case;
};

struct CaseResult {
  std::string label;
  std::string config_name;
  int64_t seq_len = 0, real_length = 0;
  int64_t parameters = 0;            // encoder + pre-training heads
  double gflops_per_example = 0;     // useful forward GFLOPs with the heads (accounting)
  double einsum_gflops = 0;          // what the reference's one-hot dispatch would add
  double inference_gflops = 0;       // encoder forward GFLOPs per example (what inference runs)
  Stats inference_ms;                // per example
  Stats training_ms;                 // per example, one optimizer step
  int64_t inference_peak_bytes = 0;  // weights + the eval forward's high-water above them
  int64_t training_peak_bytes = 0;   // weights + first step's high-water (grads, AdamW, acts)
  bool training_skipped = false;     // training state would not fit the memory budget
  double final_loss = 0;
  std::optional<OpProfile> inference_profile, training_profile;  // with BenchOptions::profile

  double inference_gflops_per_s() const;  // useful work per median time
  double training_gflops_per_s() const;   // 3 x forward (with heads) per median time
};

struct BenchReport {
  std::string title;
  std::string cpu_model;
  int cores = 0, threads = 0;
  BenchOptions options;
  bool interleaved = true;
  bool peak_rss_reset = true;  // false: peaks are process-wide high-water marks
  std::vector<CaseResult> cases;
  std::optional<GemmPeak> peak;        // measured at the run's precision when asked for
  std::optional<GemmPeak> other_peak;  // the other precision (with --peak)
  nlohmann::json peer;                 // null, or the PyTorch peer's report
  double wall_seconds = 0;
};

BenchReport run_bench(const std::string& title, const std::vector<BenchCase>& cases,
                      const BenchOptions& options);

// The paper's Table 8 layout (ratios to the first row), the peak line and the peer's rows.
std::string format_report(const BenchReport& report);
nlohmann::json to_json(const BenchReport& report);

// --device text -> at::Device; an error unless cpu, or cuda with a GPU this LibTorch can use.
at::Device parse_bench_device(const std::string& text);

std::string cpu_model_name();   // "model name" of /proc/cpuinfo
int64_t mem_available_bytes();  // MemAvailable of /proc/meminfo

}  // namespace smx::bench
