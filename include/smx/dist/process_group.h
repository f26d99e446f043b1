// The job's communicator: rendezvous through a c10d TCPStore served by rank 0 at
// MASTER_ADDR:MASTER_PORT, then a c10d process group over it: NCCL when LibTorch was built with it
// and CUDA is available, Gloo otherwise (CPU, and this project's Debian LibTorch).
//
// Every collective blocks until done and turns any backend failure (a peer that exited or was
// killed, a timeout) into smx::Error naming this rank, the collective and what to do. Collectives
// time out after GroupOptions::timeout_s, so a dead or stuck peer ends the job instead of hanging.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>
#include <c10/util/intrusive_ptr.h>

#include "smx/core/torch_compat.h"
#include "smx/dist/environment.h"

namespace c10d {
class Store;
}  // namespace c10d

namespace smx::dist {

struct GroupOptions {
  double timeout_s = 60;  // every collective and store wait
  std::string backend =
      "auto";  // "auto" (NCCL if built and CUDA is available, else Gloo), "gloo", "nccl"
};

enum class ReduceOp { sum, min, max };

class ProcessGroup {
 public:
  // Rendezvous and connect all env.world_size processes (each calls this with its own env).
  static std::shared_ptr<ProcessGroup> create(const Environment& env, const GroupOptions& options);
  ~ProcessGroup();

  int64_t rank() const { return env_.rank; }
  int64_t world_size() const { return env_.world_size; }
  const Environment& environment() const { return env_; }
  const std::string& backend_name() const { return backend_name_; }
  // Where collective tensors must live: CPU for Gloo, cuda:LOCAL_RANK for NCCL.
  at::Device device() const { return device_; }
  double timeout_s() const { return options_.timeout_s; }

  // In place on every tensor (all same device). `what` names the call in error messages.
  void all_reduce(std::vector<at::Tensor>& tensors, ReduceOp op, const std::string& what);
  void broadcast(std::vector<at::Tensor>& tensors, int64_t root, const std::string& what);
  // All ranks' `input` (same shape everywhere), in rank order.
  std::vector<at::Tensor> all_gather(const at::Tensor& input, const std::string& what);
  // output[sum(out_counts[:p]) : +out_counts[p]] <- rank p's input slice for this rank; counts are
  // rows of dim 0. Not differentiable: see expert_parallel.h for the autograd version.
  void all_to_all(at::Tensor& output, at::Tensor& input, std::vector<int64_t> out_counts,
                  std::vector<int64_t> in_counts, const std::string& what);
  void barrier(const std::string& what);

  // Small byte strings through the rendezvous store (checkpoint data states, error notes):
  // rank 0 receives every rank's `value` (others get an empty vector). Keys are unique per `tag`.
  std::vector<std::string> gather_strings(const std::string& tag, const std::string& value);

  // Raises smx::Error "rank R of W: <what> failed: <reason>. ..." for a backend exception.
  [[noreturn]] void fail_collective(const std::string& what, const std::exception& e) const;

 private:
  ProcessGroup() = default;

  Environment env_;
  GroupOptions options_;
  std::string backend_name_;
  at::Device device_{at::kCPU};
  c10::intrusive_ptr<c10d::Store> store_;
  c10::intrusive_ptr<compat::C10dBackend> group_;  // Gloo or NCCL
};

// The job-wide group, as torch.distributed's default group: set by init_from_environment(),
// null in a single-process run.
std::shared_ptr<ProcessGroup> default_group();
void set_default_group(std::shared_ptr<ProcessGroup> group);

// Reads the environment; when it describes more than one process, rendezvous and set the default
// group. Returns the default group (null for a single process). Safe to call twice.
std::shared_ptr<ProcessGroup> init_from_environment(const GroupOptions& options = {});

}  // namespace smx::dist
