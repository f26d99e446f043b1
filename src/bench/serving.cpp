#include "smx/bench/serving.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <numeric>
#include <thread>
#include <unordered_set>

#include <fmt/format.h>
#include <torch/torch.h>

#include "smx/bench/memory.h"
#include "smx/bench/runner.h"
#include "smx/core/autocast.h"
#include "smx/core/error.h"
#include "smx/core/threads.h"
#include "smx/model/embedder.h"
#include "smx/model/linear_mixing.h"
#include "smx/model/mlm_head.h"
#include "smx/model/moe_layer.h"
#include "smx/model/serving_weights.h"

namespace smx::bench {
namespace {

using ServingClock = std::chrono::steady_clock;

double serving_seconds_since(ServingClock::time_point start) {
  return std::chrono::duration<double>(ServingClock::now() - start).count();
}

int64_t tensor_bytes(const at::Tensor& t) {
  return t.numel() * static_cast<int64_t>(t.element_size());
}

// One model held by the run; rows that share weights and routing share it.
struct ServingModel {
  std::shared_ptr<model::SparseMixer> model;
  int64_t resident_bytes = 0;  // parameters at their dtypes
  int64_t rss_bytes = 0;       // process RSS growth from building (and converting) it
};

// One row's live state.
struct ServingSlot {
  ServingCase spec;
  ServingModel* held = nullptr;
  at::Tensor input_ids, type_ids;  // [B, N]
  std::vector<double> seconds;
  std::vector<int64_t> active;  // experts that ran per MoE layer, last call
};

std::string serving_model_key(const ServingCase& c) {
  return c.model + "|" + c.config.dispatch_algorithm + "|" + (c.bf16_weights ? "bf16" : "fp32");
}

double time_serving_call(ServingSlot& s) {
  model::SparseMixer& m = *s.held->model;
  model::set_skip_empty_experts(m, s.spec.skip_empty_experts);
  model::set_eval_min_expert_capacity(m, s.spec.eval_min_expert_capacity);
  const auto start = ServingClock::now();
  {
    // What serve::InferenceEngine::run does around the model call.
    torch::NoGradGuard no_grad;
    const AutocastScope autocast(s.spec.precision == Precision::kBf16, torch::kCPU);
    const model::SparseMixerOutput out = m.forward(s.input_ids, s.type_ids);
    const at::Tensor pooled = out.encoder.pooled.to(torch::kFloat).contiguous();  // [B, D]
    (void)pooled;
  }
  const double t = serving_seconds_since(start);
  s.active = model::active_experts_per_layer(m);
  return t;
}

std::string mb(int64_t bytes) {
  return fmt::format("{:.1f}", static_cast<double>(bytes) / 1e6);
}

}  // namespace

MemoryBandwidth measure_memory_bandwidth(int64_t bytes, int repeats) {
  torch::NoGradGuard no_grad;
  MemoryBandwidth r;
  const int64_t n = std::max<int64_t>(bytes / 4, 1 << 20);  // fp32 elements
  r.bytes = n * 4;
  at::Tensor buffer = torch::ones({n});  // every page touched
  const int64_t half = n / 2;
  at::Tensor dst = buffer.narrow(0, 0, half), src = buffer.narrow(0, half, half);
  double best_read = 1e30, best_copy = 1e30;
  at::sum(buffer);  // warm-up
  for (int i = 0; i < std::max(1, repeats); ++i) {
    auto start = ServingClock::now();
    const at::Tensor s = at::sum(buffer);
    best_read = std::min(best_read, serving_seconds_since(start));
    start = ServingClock::now();
    dst.copy_(src);
    best_copy = std::min(best_copy, serving_seconds_since(start));
  }
  r.read_gbps = static_cast<double>(r.bytes) / best_read / 1e9;
  r.copy_gbps = 2.0 * static_cast<double>(half * 4) / best_copy / 1e9;
  return r;
}

int64_t weight_bytes_read(const model::SparseMixer& m, int64_t batch, int64_t seq_len,
                          const std::vector<int64_t>& active_experts) {
  const ModelConfig& c = m.config();
  std::unordered_set<const torch::nn::Module*> not_run;  // the MLM head: serving never runs it
  if (m.mlm)
    for (const auto& sub : m.mlm->modules()) not_run.insert(sub.get());
  int64_t bytes = 0;
  size_t moe_index = 0;
  for (const auto& sub : m.modules()) {
    if (not_run.count(sub.get()) != 0) continue;
    if (const auto* emb = dynamic_cast<const model::Embedder*>(sub.get())) {
      const int64_t word_rows = std::min(batch * seq_len, c.vocab_size);
      bytes += tensor_bytes(emb->word_embeddings) / emb->word_embeddings.size(0) * word_rows;
      bytes += tensor_bytes(emb->position_embeddings) / emb->position_embeddings.size(0) * seq_len;
      bytes += tensor_bytes(emb->type_embeddings);
      continue;  // its LayerNorm and projection are modules of their own
    }
    if (const auto* lin = dynamic_cast<const model::LinearMixing*>(sub.get())) {
      bytes += seq_len * seq_len * static_cast<int64_t>(lin->input_kernel.element_size());
      bytes += tensor_bytes(lin->hidden_kernel);
      continue;
    }
    if (const auto* moe = dynamic_cast<const model::MoeLayer*>(sub.get())) {
      const int64_t E = moe->intermediate_kernel.size(0);
      const int64_t ran = moe_index < active_experts.size() ? active_experts[moe_index] : E;
      ++moe_index;
      for (const auto& p : sub->named_parameters(/*recurse=*/false))
        bytes += tensor_bytes(p.value()) / E * ran;  // expert tensors are stacked [E, ...]
      continue;  // the router is a module of its own, read whole
    }
    for (const auto& p : sub->named_parameters(/*recurse=*/false)) bytes += tensor_bytes(p.value());
  }
  return bytes;
}

double traffic_floor_ms(int64_t bytes, double gbps) {
  return gbps > 0 ? static_cast<double>(bytes) / (gbps * 1e9) * 1e3 : 0;
}

ServingOptions quick_serving_options(ServingOptions options) {
  options.lengths = {8, 32};
  options.batches = {1, 8};
  options.repeats = 1;
  options.bandwidth_bytes = int64_t{512} << 20;
  return options;
}

std::vector<ServingCase> serving_cases(const ServingOptions& o) {
  std::vector<ServingCase> cases;
  std::vector<ModelConfig> configs;
  for (const auto& name : o.configs) {
    std::vector<std::string> overrides = {"padding=masked", "routing_groups=sequence"};
    overrides.insert(overrides.end(), o.overrides.begin(), o.overrides.end());
    configs.push_back(load_model_config(name, overrides));
  }
  auto row = [](const ModelConfig& c, Precision p, int64_t tokens, int64_t batch) {
    ServingCase s;
    s.model = c.name;
    s.config = c;
    s.precision = p;
    s.bf16_weights = p == Precision::kBf16;
    s.eval_min_expert_capacity = c.eval_min_expert_capacity;
    s.tokens = tokens;
    s.batch = batch;
    return s;
  };
  for (const auto& c : configs)
    for (const Precision p : o.precisions)
      for (const int64_t n : o.lengths)
        for (const int64_t b : o.batches) cases.push_back(row(c, p, n, b));
  if (!o.ablation) return cases;
  // Before/after rows at batch 1, bf16: (b) autocast over fp32 weights vs bf16 weights held once;
  // (a) the eval capacity rule, and the skip where it applies (tokens-choose routing).
  for (const auto& c : configs)
    for (const int64_t n : o.lengths) {
      ServingCase s = row(c, Precision::kBf16, n, 1);
      s.bf16_weights = false;
      s.variant = "autocast, fp32 weights";
      cases.push_back(s);
      if (c.num_moe_layers == 0) continue;
      for (const int64_t cap : {int64_t{1}, int64_t{0}}) {
        s = row(c, Precision::kBf16, n, 1);
        s.eval_min_expert_capacity = cap;
        s.variant = fmt::format("eval_min_expert_capacity={}", cap);
        cases.push_back(s);
      }
    }
  for (const auto& c : configs) {
    if (c.num_moe_layers == 0 || c.eval_capacity_factor != 1.0) continue;  // one model suffices
    ModelConfig tc = c;
    tc.dispatch_algorithm = "MASK_TOKENS_CHOOSE";
    for (const int64_t n : o.lengths)
      for (const bool skip : {true, false}) {
        ServingCase s = row(tc, Precision::kBf16, n, 1);
        s.skip_empty_experts = skip;
        s.variant = skip ? "tokens-choose top-1, skip" : "tokens-choose top-1, no skip";
        cases.push_back(s);
      }
  }
  return cases;
}

ServingReport run_serving_bench(const ServingOptions& o) {
  const auto start = ServingClock::now();
  const auto log = [&](const std::string& line) {
    if (o.progress) o.progress(line);
  };
  for (const int64_t n : o.lengths)
    if (n < 1) fail("smx bench --serving: input lengths must be >= 1 (got {})", n);
  for (const int64_t b : o.batches)
    if (b < 1) fail("smx bench --serving: batch sizes must be >= 1 (got {})", b);
  ServingReport report;
  report.cpu_model = cpu_model_name();
  report.cores = static_cast<int>(std::thread::hardware_concurrency());
  report.threads = configure_threads(o.threads);
  report.repeats = std::max(1, o.repeats);
  report.warmup = std::max(0, o.warmup);
  // No caching allocator: `smx serve` runs without it, and freed weights must leave the process.

  log(fmt::format("measuring memory bandwidth ({:.0f} MiB buffer, best of 3)",
                  static_cast<double>(o.bandwidth_bytes) / (1 << 20)));
  report.bandwidth = measure_memory_bandwidth(o.bandwidth_bytes);

  std::vector<ServingSlot> slots;
  for (const auto& c : serving_cases(o)) {
    ServingSlot s;
    s.spec = c;
    slots.push_back(std::move(s));
  }
  std::map<std::string, std::unique_ptr<ServingModel>> models;
  for (size_t i = 0; i < slots.size(); ++i) {
    ServingSlot& s = slots[i];
    const ModelConfig& c = s.spec.config;
    if (s.spec.tokens > c.max_seq_len)
      fail("smx bench --serving: {} tokens exceed {}'s max_seq_len {}", s.spec.tokens, c.name,
           c.max_seq_len);
    auto& held = models[serving_model_key(s.spec)];
    if (!held) {
      log(fmt::format("building {} ({}{})", c.name, c.dispatch_algorithm,
                      s.spec.bf16_weights ? ", bf16 GEMM weights" : ""));
      held = std::make_unique<ServingModel>();
      reset_peak_rss();  // trims the heap
      const int64_t rss_before = current_rss_bytes();
      held->model = model::make_sparse_mixer(c, o.seed);  // same seed: same weights per config
      held->model->eval();
      if (s.spec.bf16_weights) model::hold_gemm_weights_in(*held->model, at::kBFloat16);
      reset_peak_rss();  // the freed fp32 copies and init temporaries leave the heap
      held->rss_bytes = current_rss_bytes() - rss_before;
      held->resident_bytes = model::parameter_bytes(*held->model);
    }
    s.held = held.get();
    const int64_t N = c.padded_length(s.spec.tokens);
    // Random ids other than pad_id for the real tokens, pads after them; one segment.
    at::Tensor ids = torch::randint(0, c.vocab_size - 1, {s.spec.batch, N}, torch::kLong);
    ids += ids.ge(c.pad_id).to(torch::kLong);
    if (N > s.spec.tokens) ids.narrow(1, s.spec.tokens, N - s.spec.tokens).fill_(c.pad_id);
    s.input_ids = ids;
    s.type_ids = torch::zeros({s.spec.batch, N}, torch::kLong);
  }

  reset_peak_rss();
  report.rss_after_build = current_rss_bytes();
  for (int r = 0; r < report.warmup + report.repeats; ++r) {
    const bool timed = r >= report.warmup;
    if (r == report.warmup) {
      reset_peak_rss();
      report.rss_after_warmup = current_rss_bytes();
    }
    for (ServingSlot& s : slots) {
      const double t = time_serving_call(s);
      if (timed) s.seconds.push_back(t);
    }
    log(fmt::format("  {} {}/{} done ({} rows)", timed ? "repeat" : "warm-up",
                    timed ? r - report.warmup + 1 : r + 1, timed ? report.repeats : report.warmup,
                    slots.size()));
  }

  for (ServingSlot& s : slots) {
    ServingResult r;
    r.spec = s.spec;
    std::vector<double> ms;
    for (const double t : s.seconds) ms.push_back(1e3 * t);
    r.ms = summarize(ms);
    const int64_t N = s.spec.config.padded_length(s.spec.tokens);
    // Autocast rows: the GEMMs read bf16 weights too (cast per call, or the bf16 copies of
    // model/compute_weights.h), so count them on the converted twin when the run built one.
    const model::SparseMixer* counted = s.held->model.get();
    if (s.spec.precision == Precision::kBf16 && !s.spec.bf16_weights) {
      ServingCase twin = s.spec;
      twin.bf16_weights = true;
      const auto it = models.find(serving_model_key(twin));
      if (it != models.end()) counted = it->second->model.get();
    }
    r.weight_bytes = weight_bytes_read(*counted, s.spec.batch, N, s.active);
    r.active_experts = std::accumulate(s.active.begin(), s.active.end(), int64_t{0});
    r.total_experts = s.spec.config.num_moe_layers * s.spec.config.num_experts;
    r.resident_bytes = s.held->resident_bytes;
    r.rss_bytes = s.held->rss_bytes;
    report.rows.push_back(r);
  }
  report.wall_seconds = serving_seconds_since(start);
  return report;
}

std::string format_serving_report(const ServingReport& report) {
  std::string out =
      "Serving: small requests (masked padding, sequence routing groups, eval mode)\n";
  out += fmt::format(
      "  {}, {} threads ({} cores); memory read bandwidth {:.1f} GB/s (at::sum over {:.0f} MiB, "
      "best of 3; copy {:.1f} GB/s)\n",
      report.cpu_model, report.threads, report.cores, report.bandwidth.read_gbps,
      static_cast<double>(report.bandwidth.bytes) / (1 << 20), report.bandwidth.copy_gbps);
  out += fmt::format(
      "  ms per call (one forward: encoder, pooler, head), min / median of {} repeats after {} "
      "warm-up, rows interleaved; floor = weights read per call (GEMM weights at the compute "
      "dtype) / read "
      "bandwidth\n",
      report.repeats, report.warmup);
  out += fmt::format(
      "  {:<24} {:<30} {:<5} {:<7} {:>6} {:>5} {:>9} {:>9} {:>9} {:>8} {:>8} {:>8} {:>7}\n",
      "model", "variant", "dtype", "weights", "tokens", "batch", "min ms", "median ms", "seq/s",
      "MB read", "experts", "floor ms", "x floor");
  for (const auto& r : report.rows) {
    const double floor = traffic_floor_ms(r.weight_bytes, report.bandwidth.read_gbps);
    const std::string experts =
        r.total_experts > 0 ? fmt::format("{}/{}", r.active_experts, r.total_experts) : "-";
    out += fmt::format(
        "  {:<24} {:<30} {:<5} {:<7} {:>6} {:>5} {:>9.1f} {:>9.1f} {:>9.1f} {:>8} {:>8} {:>8.1f} "
        "{:>7.2f}\n",
        r.spec.model, r.spec.variant.empty() ? "-" : r.spec.variant, to_string(r.spec.precision),
        r.spec.bf16_weights ? "bf16" : "fp32", r.spec.tokens, r.spec.batch, r.ms.min, r.ms.median,
        r.ms.median > 0 ? 1e3 * static_cast<double>(r.spec.batch) / r.ms.median : 0.0,
        mb(r.weight_bytes), experts, floor, floor > 0 ? r.ms.median / floor : 0.0);
  }
  std::map<std::string, std::pair<int64_t, int64_t>> resident;
  for (const auto& r : report.rows)
    resident[fmt::format("{} {}", r.spec.model, r.spec.bf16_weights ? "bf16" : "fp32")] = {
        r.resident_bytes, r.rss_bytes};
  out += "  parameters held / RSS growth when built (MB):";
  for (const auto& [name, bytes] : resident)
    out += fmt::format("  {} {} / {}", name, mb(bytes.first), mb(bytes.second));
  out +=
      fmt::format("\n  process RSS: {} MB with every model built, {} MB after the warm-up round\n",
                  mb(report.rss_after_build), mb(report.rss_after_warmup));
  out += fmt::format("  wall time {:.0f} s\n", report.wall_seconds);
  return out;
}

nlohmann::json to_json(const ServingReport& report) {
  nlohmann::json rows = nlohmann::json::array();
  for (const auto& r : report.rows)
    rows.push_back({{"model", r.spec.model},
                    {"variant", r.spec.variant},
                    {"dtype", to_string(r.spec.precision)},
                    {"bf16_weights", r.spec.bf16_weights},
                    {"tokens", r.spec.tokens},
                    {"batch", r.spec.batch},
                    {"ms", {{"min", r.ms.min}, {"median", r.ms.median}, {"samples", r.ms.samples}}},
                    {"weight_bytes_read", r.weight_bytes},
                    {"active_experts", r.active_experts},
                    {"total_experts", r.total_experts},
                    {"floor_ms", traffic_floor_ms(r.weight_bytes, report.bandwidth.read_gbps)},
                    {"resident_parameter_bytes", r.resident_bytes},
                    {"build_rss_bytes", r.rss_bytes}});
  return {{"cpu", report.cpu_model},
          {"threads", report.threads},
          {"cores", report.cores},
          {"repeats", report.repeats},
          {"warmup", report.warmup},
          {"bandwidth",
           {{"bytes", report.bandwidth.bytes},
            {"read_gbps", report.bandwidth.read_gbps},
            {"copy_gbps", report.bandwidth.copy_gbps}}},
          {"rows", rows},
          {"rss_after_build", report.rss_after_build},
          {"rss_after_warmup", report.rss_after_warmup},
          {"wall_seconds", report.wall_seconds}};
}

}  // namespace smx::bench
