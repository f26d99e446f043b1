// Text and JSON forms of a BenchReport (the Table 8 layout of the paper, plus speed diagnostics).
#include <fmt/format.h>

#include "smx/bench/runner.h"

namespace smx::bench {
namespace {

std::string range(const Stats& s) {
  return fmt::format("{:.1f} [{:.1f}-{:.1f}]", s.median, s.min, s.max);
}

// Speed-up over the first row by median and by min: "(2.22x/2.15x)".
std::string ratio(const Stats& first, const Stats& s) {
  if (s.median <= 0 || first.median <= 0 || s.min <= 0) return "";
  return fmt::format("({:.2f}x/{:.2f}x)", first.median / s.median, first.min / s.min);
}

std::string percent_of(double gflops, const std::optional<GemmPeak>& peak) {
  if (!peak || peak->gflops <= 0 || gflops <= 0) return "";
  return fmt::format(" {:.0f}%", 100.0 * gflops / peak->gflops);
}

nlohmann::json stats_json(const Stats& s) {
  return {{"median", s.median}, {"min", s.min}, {"max", s.max}, {"samples", s.samples}};
}

nlohmann::json peak_json(const GemmPeak& p) {
  nlohmann::json sizes = nlohmann::json::array();
  for (const auto& g : p.sizes)
    sizes.push_back({{"m", g.m}, {"n", g.n}, {"k", g.k}, {"gflops", g.best_gflops}});
  return {{"dtype", to_string(p.precision)}, {"gflops", p.gflops}, {"sizes", sizes}};
}

}  // namespace

std::string format_report(const BenchReport& r) {
  const BenchOptions& o = r.options;
  std::string out = fmt::format(
      "{}\n  N = {}, batch {}, {}, {}; ms per example, median "
      "[min-max] of {} repeats after {} warm-up, cases {}; (speed-up over the first row by "
      "median/by min)\n",
      r.title, o.seq_len, o.batch, to_string(o.precision),
      o.device == "cpu"
          ? fmt::format("{} threads on {} ({} cores)", r.threads, r.cpu_model, r.cores)
          : fmt::format("device {} (host: {})", o.device, r.cpu_model),
      o.repeats, o.warmup, r.interleaved ? "interleaved" : "one after another (memory)");
  out += fmt::format("  {:<30} {:>9} {:>8}  {:<36} {:<36} {:>15}  {:>15}\n", "model", "GFLOPs/ex",
                     "params", "inference ms/ex", "training ms/ex", "GFLOP/s inf", "GFLOP/s train");
  const CaseResult& first = r.cases.front();
  for (const CaseResult& c : r.cases) {
    const std::string inf =
        c.inference_ms.samples.empty()
            ? "-"
            : range(c.inference_ms) + " " + ratio(first.inference_ms, c.inference_ms);
    const std::string train =
        c.training_skipped ? "skipped (memory)"
        : c.training_ms.samples.empty()
            ? "-"
            : range(c.training_ms) + " " + ratio(first.training_ms, c.training_ms);
    std::string label = c.label;
    if (c.real_length < c.seq_len)
      label += fmt::format(" [{} of {}]", c.real_length, c.seq_len);
    else if (c.seq_len != o.seq_len)
      label += fmt::format(" [N={}]", c.seq_len);
    out += fmt::format("  {:<30} {:>9} {:>7.1f}M  {:<36} {:<36} {:>10.1f}{:<5}  {:>10.1f}{:<5}\n",
                       label,
                       c.gflops_per_example >= 1 ? fmt::format("{:.1f}", c.gflops_per_example)
                                                 : fmt::format("{:.4f}", c.gflops_per_example),
                       c.parameters / 1e6, inf, train, c.inference_gflops_per_s(),
                       percent_of(c.inference_gflops_per_s(), r.peak), c.training_gflops_per_s(),
                       percent_of(c.training_gflops_per_s(), r.peak));
  }
  out += "  peak RSS (weights + the step's high-water):";
  for (const CaseResult& c : r.cases)
    out += fmt::format("  {} {:.2f} / {:.2f} GB", c.label, c.inference_peak_bytes / 1e9,
                       c.training_peak_bytes / 1e9);
  out += r.peak_rss_reset ? "  (inference / training)\n"
                          : "  (inference / training; process-wide: no peak reset here)\n";
  for (const auto* peak : {&r.peak, &r.other_peak})
    if (*peak) {
      out += fmt::format("  GEMM peak {}: {:.1f} GFLOP/s (", to_string((*peak)->precision),
                         (*peak)->gflops);
      for (size_t i = 0; i < (*peak)->sizes.size(); ++i) {
        const GemmMeasurement& g = (*peak)->sizes[i];
        out += fmt::format("{}{}x{}x{} {:.0f}", i ? ", " : "", g.m, g.n, g.k, g.best_gflops);
      }
      out += ")\n";
    }
  if (r.peak)
    out += "  GFLOP/s columns: useful FLOPs (training = 3x forward) and % of the GEMM peak\n";
  if (!r.peer.is_null()) {
    out += fmt::format(
        "  PyTorch eager peer ({}), {}; smx speed-up = peer / smx by median/by min:\n",
        r.peer.value("torch", std::string("torch")),
        r.peer.value("interleaved", false) ? "each step right after smx's step of the same case"
                                           : "run after smx");
    for (const auto& p : r.peer.at("cases")) {
      const std::string label = p.at("label");
      const CaseResult* mine = nullptr;
      for (const CaseResult& c : r.cases)
        if (c.label == label) mine = &c;
      if (!p.value("supported", false)) {
        out += fmt::format("  {:<30} not implemented in the peer ({})\n", label,
                           p.value("reason", std::string("?")));
        continue;
      }
      auto cell = [&](const char* key, const Stats* ours) {
        if (!p.contains(key) || p.at(key).is_null()) return std::string("-");
        const nlohmann::json& s = p.at(key);
        std::string text = fmt::format("{:.1f} [{:.1f}-{:.1f}]", s.at("median").get<double>(),
                                       s.at("min").get<double>(), s.at("max").get<double>());
        if (ours && ours->median > 0 && ours->min > 0)
          text += fmt::format(" smx {:.2f}x/{:.2f}x", s.at("median").get<double>() / ours->median,
                              s.at("min").get<double>() / ours->min);
        return text;
      };
      out += fmt::format("  {:<30} {:>9} {:>8}  {:<36} {:<36}\n", label, "", "",
                         cell("inference_ms", mine ? &mine->inference_ms : nullptr),
                         cell("training_ms", mine ? &mine->training_ms : nullptr));
    }
  }
  for (const CaseResult& c : r.cases) {
    const auto per_example = [&](const OpProfile& p) {
      return fmt::format("{:.1f} ms/ex", p.wall_ms / static_cast<double>(r.options.batch));
    };
    if (c.inference_profile)
      out += fmt::format("  {} inference, one batch under the op profiler ({}):\n{}", c.label,
                         per_example(*c.inference_profile),
                         format_op_profile(*c.inference_profile, 15, "    "));
    if (c.training_profile)
      out += fmt::format("  {} training step, one batch under the op profiler ({}):\n{}", c.label,
                         per_example(*c.training_profile),
                         format_op_profile(*c.training_profile, 20, "    "));
  }
  out += fmt::format("  wall time {:.0f} s\n", r.wall_seconds);
  return out;
}

nlohmann::json to_json(const BenchReport& r) {
  const BenchOptions& o = r.options;
  nlohmann::json j;
  j["title"] = r.title;
  j["machine"] = {{"cpu", r.cpu_model}, {"cores", r.cores}, {"threads", r.threads}};
  j["settings"] = {{"device", o.device},
                   {"seq_len", o.seq_len},
                   {"batch", o.batch},
                   {"dtype", to_string(o.precision)},
                   {"repeats", o.repeats},
                   {"warmup", o.warmup},
                   {"interleaved", r.interleaved},
                   {"peak_rss_reset", r.peak_rss_reset}};
  nlohmann::json rows = nlohmann::json::array();
  for (const CaseResult& c : r.cases) {
    nlohmann::json row = {{"label", c.label},
                          {"config", c.config_name},
                          {"seq_len", c.seq_len},
                          {"real_length", c.real_length},
                          {"parameters", c.parameters},
                          {"gflops_per_example", c.gflops_per_example},
                          {"reference_einsum_gflops", c.einsum_gflops},
                          {"inference_gflops_per_example", c.inference_gflops},
                          {"inference_ms", stats_json(c.inference_ms)},
                          {"training_ms", stats_json(c.training_ms)},
                          {"training_skipped", c.training_skipped},
                          {"inference_gflops_per_s", c.inference_gflops_per_s()},
                          {"training_gflops_per_s", c.training_gflops_per_s()},
                          {"inference_peak_rss_bytes", c.inference_peak_bytes},
                          {"training_peak_rss_bytes", c.training_peak_bytes},
                          {"final_loss", c.final_loss}};
    if (c.inference_profile) row["inference_profile"] = to_json(*c.inference_profile);
    if (c.training_profile) row["training_profile"] = to_json(*c.training_profile);
    const CaseResult& first = r.cases.front();
    if (c.inference_ms.median > 0 && first.inference_ms.median > 0) {
      row["inference_speedup"] = first.inference_ms.median / c.inference_ms.median;
      row["inference_speedup_by_min"] = first.inference_ms.min / c.inference_ms.min;
    }
    if (c.training_ms.median > 0 && first.training_ms.median > 0) {
      row["training_speedup"] = first.training_ms.median / c.training_ms.median;
      row["training_speedup_by_min"] = first.training_ms.min / c.training_ms.min;
    }
    if (r.peak && r.peak->gflops > 0) {
      row["inference_fraction_of_peak"] = c.inference_gflops_per_s() / r.peak->gflops;
      row["training_fraction_of_peak"] = c.training_gflops_per_s() / r.peak->gflops;
    }
    rows.push_back(row);
  }
  j["results"] = rows;
  if (r.peak) j["gemm_peak"] = peak_json(*r.peak);
  if (r.other_peak) j["gemm_peak_other"] = peak_json(*r.other_peak);
  j["peer"] = r.peer;
  j["wall_seconds"] = r.wall_seconds;
  return j;
}

}  // namespace smx::bench
