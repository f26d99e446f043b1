#include "smx/bench/peer.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>

#include <fmt/format.h>

#include "smx/bench/stats.h"
#include "smx/core/error.h"

namespace smx::bench {

std::string default_peer_script() {
  if (const char* env = std::getenv("SMX_PEER_SCRIPT")) return env;
  const std::filesystem::path configs(config_directory());
  return (configs.parent_path() / "bench" / "peers" / "torch_peer.py").string();
}

InterleavedPeer::InterleavedPeer(std::vector<BenchCase> cases, const BenchOptions& options,
                                 PeerOptions peer)
    : cases_(std::move(cases)), options_(options), peer_(std::move(peer)) {
  results_.resize(cases_.size());
  std::vector<std::string> command = peer_.command;
  if (command.empty()) {
    const std::string script = peer_.script.empty() ? default_peer_script() : peer_.script;
    if (!std::filesystem::exists(script))
      fail("--peer: peer script {} not found; set SMX_PEER_SCRIPT or pass --peer-script", script);
    command = {peer_.python, script, "--serve"};
  }
  std::vector<std::string> env;
  if (options_.threads > 0) env.push_back(fmt::format("OMP_NUM_THREADS={}", options_.threads));
  if (options_.progress) {
    std::string line;
    for (const auto& a : command) line += (line.empty() ? "" : " ") + a;
    options_.progress("starting the PyTorch peer: " + line);
  }
  process_ = std::make_unique<PeerProcess>(command, env, "the PyTorch peer");
  const nlohmann::json hello = process_->request({{"op", "init"},
                                                  {"threads", options_.threads},
                                                  {"dtype", to_string(options_.precision)},
                                                  {"batch", options_.batch},
                                                  {"seed", options_.seed}},
                                                 peer_.timeout_s, "starting up (init)");
  version_ = hello.value("torch", std::string("PyTorch"));
}

void InterleavedPeer::build(size_t index) {
  PeerCase& r = results_.at(index);
  const BenchCase& c = cases_.at(index);
  const nlohmann::json answer =
      process_->request({{"op", "build"},
                         {"label", c.label},
                         {"config", c.config.to_json()},
                         {"seq_len", c.seq_len > 0 ? c.seq_len : options_.seq_len},
                         {"real_length", c.real_length}},
                        peer_.timeout_s, fmt::format("building case '{}'", c.label));
  r.built = true;
  r.supported = answer.value("supported", false);
  r.reason = answer.value("reason", std::string());
}

void InterleavedPeer::step(size_t index, bool training, bool timed, double smx_seconds) {
  PeerCase& r = results_.at(index);
  if (!r.built) build(index);
  if (!r.supported) return;
  const std::string& label = cases_[index].label;
  const char* mode = training ? "training" : "inference";
  const double timeout = std::max(peer_.timeout_s, peer_.step_timeout_factor * smx_seconds);
  const nlohmann::json answer =
      process_->request({{"op", "run"}, {"label", label}, {"mode", mode}}, timeout,
                        fmt::format("running one {} step of case '{}'", mode, label));
  const auto ms = answer.find("ms");
  if (ms == answer.end() || !ms->is_number() || !(ms->get<double>() >= 0))
    fail("the PyTorch peer answered a {} step of case '{}' without a time (\"ms\" >= 0): {}", mode,
         label, answer.dump().substr(0, 80));
  if (timed) (training ? r.training_ms : r.inference_ms).push_back(ms->get<double>());
  if (options_.progress)
    options_.progress(fmt::format("    peer     {} {:<28} {:8.1f} ms/ex",
                                  training ? "training " : "inference", label, ms->get<double>()));
}

void InterleavedPeer::drop(size_t index) {
  PeerCase& r = results_.at(index);
  if (!r.built || !r.supported) return;
  process_->request({{"op", "drop"}, {"label", cases_[index].label}}, peer_.timeout_s,
                    fmt::format("dropping case '{}'", cases_[index].label));
}

nlohmann::json InterleavedPeer::report() const {
  const auto stats_json = [](const std::vector<double>& ms) -> nlohmann::json {
    if (ms.empty()) return nullptr;
    const Stats s = summarize(ms);
    return {{"median", s.median}, {"min", s.min}, {"max", s.max}, {"samples", s.samples}};
  };
  nlohmann::json out = {{"torch", version_},
                        {"interleaved", true},
                        {"dtype", to_string(options_.precision)},
                        {"cases", nlohmann::json::array()}};
  for (size_t i = 0; i < cases_.size(); ++i) {
    const PeerCase& r = results_[i];
    nlohmann::json row = {{"label", cases_[i].label}, {"supported", r.supported}};
    if (!r.supported) row["reason"] = r.reason;
    row["inference_ms"] = stats_json(r.inference_ms);
    row["training_ms"] = stats_json(r.training_ms);
    out["cases"].push_back(row);
  }
  return out;
}

void InterleavedPeer::attach(BenchOptions& options) {
  options.processes = 2;
  options.after_step = [this](size_t index, bool training, bool timed, double seconds) {
    step(index, training, timed, seconds);
  };
  options.after_case = [this](size_t index) { drop(index); };
}

}  // namespace smx::bench
