// The PyTorch eager peer (bench/peers/torch_peer.py): the same architectures written the usual
// PyTorch way, timed with the same shapes, threads and repeats. `smx bench --peer` runs it in a
// child process after its own measurements and shows its ms/example beside smx's.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "smx/bench/runner.h"

namespace smx::bench {

// bench/peers/torch_peer.py of the source tree ($SMX_PEER_SCRIPT overrides).
std::string default_peer_script();

// Runs `python` on `script` for `cases`; returns its JSON report ({"torch": version,
// "cases": [{"label", "supported", "inference_ms": {median, min, max, samples}, ...}]}).
nlohmann::json run_peer(const std::vector<BenchCase>& cases, const BenchOptions& options,
                        const std::string& python, const std::string& script);

}  // namespace smx::bench
