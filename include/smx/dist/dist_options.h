// Options of multi-process training (docs/distributed.md), shared by pre-training and fine-tuning.
// They are saved with a run's options so that --resume keeps them; flags given again override.
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

namespace smx::dist {

struct DistOptions {
  // How ranks split the training stream:
  //  "examples":  every rank reads the whole stream with the global batch W·b and keeps examples
  //               [r·b, (r+1)·b) of each batch: W ranks with batch b train exactly like one process
  //               with batch W·b, and a checkpoint resumes on any number of ranks with the same
  //               W·b.
  //  "documents": rank r reads only documents d with d % W == r (less reading per rank); a
  //               checkpoint keeps every rank's stream state and resumes on the same W only.
  std::string shard = "examples";
  bool expert_parallel = false;  // split each MoE layer's experts across ranks (expert_parallel.h)
  double timeout_s = 60;         // any collective or rendezvous wait; then the job fails
  int64_t check_every = 100;     // steps between replica checksum comparisons; 0 = never
  double bucket_mb = 25;         // gradient all-reduce bucket size
  std::string backend = "auto";  // "auto", "gloo" or "nccl"

  void validate() const;  // throws smx::Error naming the bad option
};

void to_json(nlohmann::json& j, const DistOptions& o);
void from_json(const nlohmann::json& j, DistOptions& o);

}  // namespace smx::dist
