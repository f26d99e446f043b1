// The PyTorch eager peer (bench/peers/torch_peer.py): the same architectures written the usual
// PyTorch way, timed with the same shapes, threads and batch. `smx bench --peer` starts it once
// (--serve) and drives it over a pipe (peer_process.h): right after each smx step of a case, the
// peer runs one step of the same case, so every smx-vs-peer ratio compares neighbouring
// measurements, taken under the same load on a shared machine.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "smx/bench/peer_process.h"
#include "smx/bench/runner.h"

namespace smx::bench {

// bench/peers/torch_peer.py of the source tree ($SMX_PEER_SCRIPT overrides).
std::string default_peer_script();

struct PeerOptions {
  std::string python = "/usr/bin/python3";
  std::string script;  // empty: default_peer_script()
  // Seconds to wait for starting the peer and building a case, and the least for one step; a
  // step may also take `step_timeout_factor` times smx's step of the same case.
  double timeout_s = 300;
  double step_timeout_factor = 20;
  // The command instead of `python script --serve` (tests drive fake peers this way).
  std::vector<std::string> command;
};

class InterleavedPeer {
 public:
  // Starts the peer and sends it the run's settings; cases are built on their first step.
  InterleavedPeer(std::vector<BenchCase> cases, const BenchOptions& options, PeerOptions peer);

  // One peer step of case `index` (inference or training), kept as a sample when `timed`;
  // `smx_seconds` (smx's step just before) sets the timeout. Unsupported cases are skipped.
  void step(size_t index, bool training, bool timed, double smx_seconds);
  // Frees the peer's model of case `index` (cases measured one after another).
  void drop(size_t index);

  // {"torch": version, "interleaved": true, "cases": [{"label", "supported", "reason",
  //  "inference_ms": {median, min, max, samples}, "training_ms": ...}]} (ms per example).
  nlohmann::json report() const;

  // Hooks for BenchOptions::after_step / after_case that call step() / drop().
  void attach(BenchOptions& options);

 private:
  struct PeerCase {
    bool built = false, supported = true;
    std::string reason;
    std::vector<double> inference_ms, training_ms;
  };
  void build(size_t index);

  std::vector<BenchCase> cases_;
  BenchOptions options_;
  PeerOptions peer_;
  std::unique_ptr<PeerProcess> process_;
  std::string version_;
  std::vector<PeerCase> results_;
};

}  // namespace smx::bench
