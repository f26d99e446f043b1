#include "smx/bench/peer.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <unistd.h>

#include <fmt/format.h>

#include "smx/core/error.h"

namespace smx::bench {

std::string default_peer_script() {
  if (const char* env = std::getenv("SMX_PEER_SCRIPT")) return env;
  const std::filesystem::path configs(config_directory());
  return (configs.parent_path() / "bench" / "peers" / "torch_peer.py").string();
}

nlohmann::json run_peer(const std::vector<BenchCase>& cases, const BenchOptions& options,
                        const std::string& python, const std::string& script) {
  if (!std::filesystem::exists(script))
    fail("--peer: peer script {} not found; set SMX_PEER_SCRIPT or pass --peer-script", script);
  nlohmann::json spec;
  spec["batch"] = options.batch;
  spec["seq_len"] = options.seq_len;
  spec["repeats"] = options.repeats;
  spec["warmup"] = options.warmup;
  spec["threads"] = options.threads;
  spec["dtype"] = to_string(options.precision);
  spec["inference"] = options.inference;
  spec["training"] = options.training;
  spec["seed"] = options.seed;
  spec["cases"] = nlohmann::json::array();
  for (const BenchCase& c : cases)
    spec["cases"].push_back({{"label", c.label},
                             {"config", c.config.to_json()},
                             {"seq_len", c.seq_len > 0 ? c.seq_len : options.seq_len},
                             {"real_length", c.real_length}});
  const auto dir = std::filesystem::temp_directory_path() /
                   fmt::format("smx-peer-{}", static_cast<long>(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string spec_path = (dir / "spec.json").string(),
                    out_path = (dir / "out.json").string();
  std::ofstream(spec_path) << spec.dump(2);
  const std::string command = fmt::format("OMP_NUM_THREADS={} '{}' '{}' --spec '{}' --out '{}'",
                                          options.threads, python, script, spec_path, out_path);
  if (options.progress) options.progress("running the PyTorch peer: " + command);
  const int status = std::system(command.c_str());
  nlohmann::json result;
  std::ifstream in(out_path);
  if (status != 0 || !in)
    fail("--peer: the peer exited with status {}; run `{}` by hand to see why", status, command);
  in >> result;
  std::filesystem::remove_all(dir);
  return result;
}

}  // namespace smx::bench
