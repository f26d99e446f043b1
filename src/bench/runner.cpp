#include "smx/bench/runner.h"
#include "smx/core/autocast.h"
#include "smx/core/threads.h"

#include <algorithm>
#include <chrono>
#include <fstream>
#include <memory>
#include <thread>

#include <fmt/format.h>
#include <torch/cuda.h>
#include <torch/torch.h>

#include "smx/accounting/accounting.h"
#include "smx/bench/memory.h"
#include "smx/bench/pretraining_step.h"
#include "smx/bench/synthetic_batch.h"
#include "smx/core/caching_allocator.h"
#include "smx/core/error.h"
#include "smx/core/torch_compat.h"
#include "smx/model/compute_weights.h"
#include "smx/model/sparse_mixer.h"
#include "smx/ops/fused_kernels.h"

namespace smx::bench {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// The batch's tensors on `device` (synthetic batches are made on the CPU).
Batch bench_batch_on(Batch b, const at::Device& device) {
  for (at::Tensor* t : {&b.input_ids, &b.type_ids, &b.masked_lm_positions, &b.masked_lm_ids,
                        &b.masked_lm_weights, &b.nsp_labels, &b.labels})
    if (t->defined()) *t = t->to(device);
  return b;
}

// One case's live state: model, optimizer, batch and its samples.
struct Slot {
  BenchCase spec;
  size_t index = 0;  // in the case list
  int64_t N = 0;
  std::shared_ptr<model::SparseMixer> model;
  std::unique_ptr<train::AdamW> optimizer;
  Batch batch;
  std::vector<double> inference, training;
  std::optional<OpProfile> inference_profile, training_profile;
  int64_t weight_bytes = 0;
  int64_t inference_peak = 0, training_peak = 0;
  bool skip_training = false;
  double loss = 0;
};

int64_t training_state_bytes(const ModelConfig& c) {
  // fp32 weights, gradients and two AdamW moments.
  return accounting::account(c).total_parameters * 4 * 4;
}

class Runner {
 public:
  Runner(const BenchOptions& options) : o_(options), device_(options.device) {}

  // Kernels on an accelerator run asynchronously: a step ends when its device is idle.
  void synchronize() const {
    if (device_.is_cuda()) torch::cuda::synchronize(device_.has_index() ? device_.index() : -1);
  }

  void log(const std::string& line) const {
    if (o_.progress) o_.progress(line);
  }

  void build(Slot& s, size_t index) {
    s.index = index;
    torch::manual_seed(o_.seed + index);
    s.model = model::make_sparse_mixer(s.spec.config, o_.seed + index);
    if (!device_.is_cpu()) s.model->to(device_);
    s.weight_bytes = 0;
    for (const auto& p : s.model->parameters()) s.weight_bytes += p.numel() * p.element_size();
    s.batch = bench_batch_on(make_synthetic_batch(s.spec.config, o_.batch, s.N,
                                                  o_.seed + 1000 + index, s.spec.real_length),
                             device_);
  }

  // Times one eval forward; the first call of a case also records its memory high-water.
  double infer(Slot& s, bool record_peak) {
    ops::set_fused_kernels(s.spec.fused);
    model::set_bf16_end_to_end(s.spec.bf16_end_to_end);
    if (record_peak) release_cached_cpu_memory();
    const bool reset = record_peak && reset_peak_rss();
    const int64_t base = current_rss_bytes();
    const auto start = Clock::now();
    {
      const AutocastScope scope(o_.precision == Precision::kBf16, device_, AutocastCache::kKeep);
      inference_forward(*s.model, s.batch);
    }
    synchronize();
    const double t = seconds_since(start);
    if (record_peak) {
      s.inference_peak = s.weight_bytes + std::max<int64_t>(0, peak_rss_bytes() - base);
      peak_reset_ok_ = peak_reset_ok_ && reset;
    }
    return t;
  }

  double train(Slot& s, bool record_peak) {
    ops::set_fused_kernels(s.spec.fused);
    model::set_bf16_end_to_end(s.spec.bf16_end_to_end);
    // Training invalidates the cached bf16 weights of the eval path (and vice versa).
    clear_autocast_cache();
    if (record_peak) release_cached_cpu_memory();
    const bool reset = record_peak && reset_peak_rss();
    const int64_t base = current_rss_bytes();
    const auto start = Clock::now();
    if (!s.optimizer) s.optimizer = make_adamw(*s.model);
    {  // the step changes the weights: the scope drops its casts on exit
      const AutocastScope scope(o_.precision == Precision::kBf16, device_);
      s.loss = pretraining_step(*s.model, *s.optimizer, s.batch);
    }
    synchronize();
    const double t = seconds_since(start);
    if (record_peak) {
      s.training_peak = s.weight_bytes + std::max<int64_t>(0, peak_rss_bytes() - base);
      peak_reset_ok_ = peak_reset_ok_ && reset;
    }
    return t;
  }

  // Warm-up and repeats of `slots`, interleaved: every repeat visits every case once per mode.
  void measure(std::vector<Slot*> slots) {
    const int warmup = std::max(0, o_.warmup), repeats = std::max(1, o_.repeats);
    for (int r = 0; r < warmup + repeats; ++r) {
      const bool timed = r >= warmup;
      const bool first = r == 0;
      if (o_.inference) {
        for (Slot* s : slots) {
          const double t = infer(*s, first);
          if (timed) s->inference.push_back(t);
          log(fmt::format("  {} {}/{} inference {:<28} {:8.1f} ms/ex", timed ? "repeat" : "warm-up",
                          timed ? r - warmup + 1 : r + 1, timed ? repeats : warmup, s->spec.label,
                          1e3 * t / o_.batch));
          if (o_.after_step) o_.after_step(s->index, false, timed, t);
        }
        clear_autocast_cache();
      }
      if (o_.training) {
        for (Slot* s : slots) {
          if (s->skip_training) continue;
          const double t = train(*s, first);
          if (timed) s->training.push_back(t);
          log(fmt::format("  {} {}/{} training  {:<28} {:8.1f} ms/ex", timed ? "repeat" : "warm-up",
                          timed ? r - warmup + 1 : r + 1, timed ? repeats : warmup, s->spec.label,
                          1e3 * t / o_.batch));
          if (o_.after_step) o_.after_step(s->index, true, timed, t);
        }
      }
    }
    if (o_.profile) {
      for (Slot* s : slots) {
        log(fmt::format("  profiling {}", s->spec.label));
        if (o_.inference) s->inference_profile = profile_ops([&] { infer(*s, false); });
        clear_autocast_cache();
        if (o_.training && !s->skip_training)
          s->training_profile = profile_ops([&] { train(*s, false); });
      }
    }
  }

  bool peak_reset_ok() const { return peak_reset_ok_; }

 private:
  const BenchOptions& o_;
  at::Device device_;
  bool peak_reset_ok_ = true;
};

}  // namespace

at::Device parse_bench_device(const std::string& text) {
  at::Device device(at::kCPU);
  try {
    device = at::Device(text);
  } catch (const std::exception&) {
    fail("smx bench: --device '{}' is not a device; use cpu, cuda or cuda:N", text);
  }
  if (!device.is_cpu() && !device.is_cuda())
    fail("smx bench: --device {}: only cpu and cuda are supported", text);
  if (device.is_cuda() && !torch::cuda::is_available())
    fail(
        "smx bench: --device {}: this LibTorch ({}) has no CUDA or sees no GPU; build against a "
        "CUDA LibTorch (scripts/device_check) and check nvidia-smi",
        text, compat::torch_version());
  return device;
}

namespace {

Stats per_example_ms(const std::vector<double>& seconds, int64_t batch) {
  std::vector<double> ms;
  for (double s : seconds) ms.push_back(1e3 * s / static_cast<double>(batch));
  return summarize(ms);
}

}  // namespace

double CaseResult::inference_gflops_per_s() const {
  return inference_ms.median > 0 ? inference_gflops / (inference_ms.median / 1e3) : 0;
}

double CaseResult::training_gflops_per_s() const {
  return training_ms.median > 0 ? 3.0 * gflops_per_example / (training_ms.median / 1e3) : 0;
}

int64_t mem_available_bytes() {
  std::ifstream meminfo("/proc/meminfo");
  std::string key;
  int64_t kb = 0;
  std::string unit;
  while (meminfo >> key >> kb >> unit)
    if (key == "MemAvailable:") return kb * 1024;
  return 8LL << 30;
}

std::string cpu_model_name() {
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line;
  while (std::getline(cpuinfo, line))
    if (line.rfind("model name", 0) == 0) {
      const auto colon = line.find(':');
      return colon == std::string::npos ? line : line.substr(colon + 2);
    }
  return "unknown CPU";
}

BenchReport run_bench(const std::string& title, const std::vector<BenchCase>& cases,
                      const BenchOptions& options) {
  if (cases.empty()) fail("smx bench: no configs to measure; pass --config a,b,c");
  if (options.batch < 1) fail("smx bench: --batch must be >= 1 (got {})", options.batch);
  const at::Device device = parse_bench_device(options.device);
  const auto start = Clock::now();
  BenchReport report;
  report.title = title;
  report.options = options;
  report.cpu_model = cpu_model_name();
  report.cores = static_cast<int>(std::thread::hardware_concurrency());
  report.threads = configure_threads(options.threads);
  report.options.threads = report.threads;
  if (options.caching_allocator && device.is_cpu()) enable_caching_cpu_allocator();

  std::vector<Slot> slots(cases.size());
  int64_t state_bytes = 0;
  const int64_t budget = options.memory_budget_bytes > 0
                             ? options.memory_budget_bytes
                             : mem_available_bytes() * 6 / 10 / std::max(1, options.processes);
  for (size_t i = 0; i < cases.size(); ++i) {
    Slot& s = slots[i];
    s.spec = cases[i];
    s.N = cases[i].seq_len > 0 ? cases[i].seq_len : options.seq_len;
    if (s.spec.real_length > s.N)
      fail("smx bench: case '{}' has {} real tokens but sequence length {}", s.spec.label,
           s.spec.real_length, s.N);
    const int64_t bytes = training_state_bytes(s.spec.config);
    s.skip_training = options.training && bytes > budget;
    state_bytes += options.training && !s.skip_training ? bytes : bytes / 4;
  }
  report.interleaved = state_bytes <= budget;

  Runner runner(report.options);
  if (report.interleaved) {
    std::vector<Slot*> all;
    for (size_t i = 0; i < slots.size(); ++i) {
      runner.log(fmt::format("building {} ({})", slots[i].spec.label, slots[i].spec.config.name));
      runner.build(slots[i], i);
      all.push_back(&slots[i]);
    }
    runner.measure(all);
  } else {
    runner.log(fmt::format(
        "state of all cases ({:.1f} GB) exceeds the memory budget ({:.1f} GB): cases run one "
        "after another",
        state_bytes / 1e9, budget / 1e9));
    for (size_t i = 0; i < slots.size(); ++i) {
      runner.log(fmt::format("building {} ({})", slots[i].spec.label, slots[i].spec.config.name));
      runner.build(slots[i], i);
      runner.measure({&slots[i]});
      if (options.after_case) options.after_case(i);
      slots[i].optimizer.reset();
      slots[i].model.reset();
    }
  }
  ops::set_fused_kernels(true);  // cases may have turned them off
  model::set_bf16_end_to_end(true);

  for (Slot& s : slots) {
    CaseResult r;
    r.label = s.spec.label;
    r.config_name = s.spec.config.name;
    r.seq_len = s.N;
    r.real_length = s.spec.real_length > 0 ? s.spec.real_length : s.N;
    const accounting::Report a = accounting::account(s.spec.config, s.N);
    r.parameters = a.total_parameters;
    r.gflops_per_example = a.total_gflops;
    r.einsum_gflops = a.einsum_gflops;
    r.inference_gflops = a.encoder_gflops;
    r.inference_ms = per_example_ms(s.inference, options.batch);
    r.training_ms = per_example_ms(s.training, options.batch);
    r.inference_peak_bytes = s.inference_peak;
    r.training_peak_bytes = s.training_peak;
    r.training_skipped = s.skip_training;
    r.final_loss = s.loss;
    r.inference_profile = s.inference_profile;
    r.training_profile = s.training_profile;
    report.cases.push_back(r);
  }
  report.peak_rss_reset = runner.peak_reset_ok();
  report.wall_seconds = seconds_since(start);
  return report;
}

}  // namespace smx::bench
