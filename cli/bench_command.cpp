// smx bench: the paper's Table 8 speed comparison (and its ablation tables) measured in one
// process: inference and training ms/example, GFLOP/s, peak memory, optional GEMM peak and
// PyTorch peer. See bench/README.md for the commands behind every published number.
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <unistd.h>

#include <fmt/format.h>

#include "commands.h"
#include "smx/bench/ablations.h"
#include "smx/bench/gemm_peak.h"
#include "smx/bench/peer.h"
#include "smx/bench/runner.h"
#include "smx/bench/serving.h"
#include "smx/core/cpu_features.h"
#include "smx/core/error.h"
#include "smx/core/threads.h"

namespace smx::cli {
namespace {

struct BenchCliOptions {
  std::vector<std::string> configs;
  std::vector<std::string> overrides;
  std::string ablation;
  std::string dtype = "fp32";
  std::string json;
  std::string peer_python = "/usr/bin/python3";
  std::string peer_script;
  double peer_timeout = 300;
  std::string device = "cpu";
  int64_t seq_len = 512;
  int64_t batch = 8;
  int threads = 0;
  int repeats = 5;  // bench/README.md: a median of 5 survives two disturbed repeats
  int warmup = 1;
  bool quick = false;
  bool peak = false;
  bool peer = false;
  bool inference_only = false;
  bool training_only = false;
  bool passive_wait = false;
  bool no_cache = false;
  bool profile = false;
  bool serving = false, serving_ablation = false;
  std::vector<int64_t> lengths, batches;  // --serving: empty = its defaults
};

// `smx bench --serving`: small requests (bench/serving.h).
void run_serving(const BenchCliOptions& o, CLI::App* cmd) {
  bench::ServingOptions options;
  if (o.quick) options = bench::quick_serving_options(options);
  if (!o.configs.empty()) options.configs = o.configs;
  options.overrides = o.overrides;
  if (!o.lengths.empty()) options.lengths = o.lengths;
  if (!o.batches.empty()) options.batches = o.batches;
  if (cmd->count("--dtype") > 0) options.precisions = {bench::parse_precision(o.dtype)};
  if (cmd->count("--repeats") > 0) options.repeats = o.repeats;
  options.warmup = o.warmup;
  options.threads = o.threads;
  options.ablation = o.serving_ablation;
  options.progress = [](const std::string& line) { std::fprintf(stderr, "%s\n", line.c_str()); };
  const bench::ServingReport report = bench::run_serving_bench(options);
  std::fputs(bench::format_serving_report(report).c_str(), stdout);
  if (!o.json.empty()) {
    std::ofstream out(o.json);
    if (!out) fail("--json: cannot write {}; check the directory exists and is writable", o.json);
    out << bench::to_json(report).dump(2) << "\n";
  }
}

// libgomp reads OMP_WAIT_POLICY once, when it is loaded, so the passive policy needs a re-exec.
void reexec_with_passive_wait() {
  if (std::getenv("OMP_WAIT_POLICY") != nullptr) return;
  std::ifstream cmdline("/proc/self/cmdline", std::ios::binary);
  std::vector<std::string> args;
  for (std::string arg; std::getline(cmdline, arg, '\0');) args.push_back(arg);
  if (args.empty()) return;
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
  std::fflush(stdout);
  execv("/proc/self/exe", argv.data());  // returns only on failure: carry on without it
}

void run(const BenchCliOptions& o, CLI::App* cmd) {
  if (o.serving) return run_serving(o, cmd);
  bench::BenchOptions options;
  options.seq_len = o.seq_len;
  options.batch = o.quick && cmd->count("--batch") == 0 ? 2 : o.batch;
  options.repeats = o.quick && cmd->count("--repeats") == 0 ? 1 : o.repeats;
  options.warmup = o.warmup;
  options.precision = bench::parse_precision(o.dtype);
  options.threads = o.threads;
  options.caching_allocator = !o.no_cache;
  options.device = o.device;
  if (bench::parse_bench_device(o.device).is_cuda() && (o.peak || o.peer || o.profile))
    fail("smx bench --device {}: --peak, --peer and --profile measure the CPU; drop them",
         o.device);
  options.profile = o.profile;
  if (o.inference_only && o.training_only)
    fail("smx bench: --inference-only and --training-only exclude each other; drop one");
  options.inference = !o.training_only;
  options.training = !o.inference_only;
  options.progress = [](const std::string& line) { std::fprintf(stderr, "%s\n", line.c_str()); };
  if (options.precision == bench::Precision::kBf16 && !cpu_supports_avx512_bf16())
    std::fprintf(stderr, "note: this CPU has no AVX512-BF16; bf16 GEMMs will be emulated (slow)\n");

  std::vector<bench::BenchCase> cases;
  std::string title;
  if (!o.ablation.empty()) {
    if (!o.configs.empty())
      fail("smx bench: --ablation builds its own configs; drop --config (or drop --ablation)");
    cases = bench::ablation_cases(o.ablation);
    title = bench::ablation_title(o.ablation);
  } else {
    std::vector<std::string> names = o.configs;
    if (names.empty()) names = {"bert-base", "sparse-mixer-base", "fast-sparse-mixer-base"};
    for (const auto& name : names) {
      ModelConfig c = load_model_config(name, o.overrides);
      cases.push_back({c.name, c, 0, 0});
    }
    title = "Table 8: speed at Base size";
  }

  // The peer runs interleaved: one of its steps right after each smx step of the same case.
  std::unique_ptr<bench::InterleavedPeer> peer;
  if (o.peer) {
    bench::PeerOptions p;
    p.python = o.peer_python;
    p.script = o.peer_script;
    p.timeout_s = o.peer_timeout;
    bench::BenchOptions resolved = options;
    resolved.threads = configure_threads(options.threads);  // the peer gets the same count
    peer = std::make_unique<bench::InterleavedPeer>(cases, resolved, p);
    peer->attach(options);
  }
  bench::BenchReport report = bench::run_bench(title, cases, options);
  if (o.peak) {
    options.progress("measuring the GEMM peak (fp32 and bf16)");
    const bench::GemmPeak fp32 = bench::measure_gemm_peak(bench::Precision::kFp32);
    const bench::GemmPeak bf16 = bench::measure_gemm_peak(bench::Precision::kBf16);
    const bool is_bf16 = options.precision == bench::Precision::kBf16;
    report.peak = is_bf16 ? bf16 : fp32;
    report.other_peak = is_bf16 ? fp32 : bf16;
  }
  if (peer) {
    report.peer = peer->report();
    peer.reset();  // the peer process ends here
  }
  std::fputs(bench::format_report(report).c_str(), stdout);
  if (!o.json.empty()) {
    std::ofstream out(o.json);
    if (!out) fail("--json: cannot write {}; check the directory exists and is writable", o.json);
    out << bench::to_json(report).dump(2) << "\n";
  }
}

}  // namespace

void register_bench_command(CLI::App& app) {
  auto o = std::make_shared<BenchCliOptions>();
  CLI::App* cmd = app.add_subcommand(
      "bench", "Table 8 speed comparison: inference and training ms/example, GFLOP/s, memory");
  cmd->add_option("--config,-c", o->configs,
                  "Comma-separated presets or JSON files (default: bert-base, sparse-mixer-base, "
                  "fast-sparse-mixer-base); ratios are to the first")
      ->delimiter(',');
  cmd->add_option("--set", o->overrides,
                  "Override a config key of every --config: --set key=value");
  cmd->add_option("--ablation", o->ablation,
                  "Speed columns of an ablation table: mixing (T1), hybrid (T2), experts (T14), "
                  "capacity (T8), layout (T5), padding, fused (smx kernels vs ATen ops), "
                  "bf16 (end to end vs autocast)");
  cmd->add_option("--device", o->device,
                  "cpu, cuda or cuda:N (a CUDA LibTorch: scripts/device_check); models, batches "
                  "and bf16 autocast on that device")
      ->capture_default_str();
  cmd->add_option("--seq-len", o->seq_len, "Sequence length N")->capture_default_str();
  cmd->add_option("--batch", o->batch, "Examples per step")->capture_default_str();
  cmd->add_option("--dtype", o->dtype, "fp32, or bf16 (autocast GEMMs, fp32 router and losses)")
      ->capture_default_str();
  cmd->add_option("--threads", o->threads, "Intra-op threads (0 = every core)")
      ->capture_default_str();
  cmd->add_option("--repeats", o->repeats,
                  "Timed repeats per case (5: on a shared host about 1 in 5 steps runs >15% slow; "
                  "a median of 5 survives two such)")
      ->capture_default_str();
  cmd->add_option("--warmup", o->warmup, "Untimed warm-up rounds")->capture_default_str();
  cmd->add_flag("--quick", o->quick, "Batch 2 and 1 repeat unless given: a fast smoke run");
  cmd->add_flag("--inference-only", o->inference_only, "Skip the training steps");
  cmd->add_flag("--training-only", o->training_only, "Skip the inference forwards");
  cmd->add_flag("--peak", o->peak, "Also measure this machine's fp32 and bf16 GEMM peak");
  cmd->add_flag("--profile", o->profile,
                "After the repeats, run one more step of each case under the op profiler and "
                "print where its time goes (self time per ATen op, matrix products by shape with "
                "their GFLOP/s, element-wise passes (copies, fills, adds, sums) by the op that "
                "asked for them)");
  cmd->add_flag("--peer", o->peer,
                "Also time the PyTorch eager peer on the same cases, one of its steps right after "
                "each smx step of the same case (ratios between neighbouring measurements)");
  cmd->add_option("--peer-python", o->peer_python, "Python with torch for --peer")
      ->capture_default_str();
  cmd->add_option("--peer-script", o->peer_script,
                  "Peer script (default bench/peers/torch_peer.py)");
  cmd->add_option("--peer-timeout", o->peer_timeout,
                  "Seconds the peer may take to start, build a case or run a step (a step may "
                  "also take 20x smx's step) before it is killed and the run fails")
      ->capture_default_str();
  cmd->add_flag("--serving", o->serving,
                "Small requests instead of Table 8: batch-1 latency and batch 8/32 throughput of "
                "8/32/128-token inputs, fp32 and bf16, beside the memory-traffic floor");
  cmd->add_flag("--serving-ablation", o->serving_ablation,
                "With --serving: also the before/after rows (autocast vs bf16 weights, "
                "eval_min_expert_capacity, skipping empty experts)");
  cmd->add_option("--lengths", o->lengths, "With --serving: input lengths (default 8,32,128)")
      ->delimiter(',');
  cmd->add_option("--batches", o->batches, "With --serving: batch sizes (default 1,8,32)")
      ->delimiter(',');
  cmd->add_option("--json", o->json, "Also write the report as JSON to this file");
  cmd->add_flag("--passive-wait", o->passive_wait,
                "Re-run with OMP_WAIT_POLICY=PASSIVE (idle OpenMP threads sleep at once instead "
                "of spinning briefly first), as for cores shared with another busy process; "
                "slower on a quiet host (bench/README.md), and not what smx serve or pretrain run");
  cmd->add_flag("--no-caching-allocator", o->no_cache,
                "Use LibTorch's plain CPU allocator (every large tensor a fresh mmap)");
  cmd->callback([o, cmd] {
    if (o->passive_wait) reexec_with_passive_wait();
    run(*o, cmd);
  });
}

}  // namespace smx::cli
