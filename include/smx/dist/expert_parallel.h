// Expert parallelism: the E experts of every MoE layer are split into W contiguous blocks; rank r
// holds experts [r·E/W, (r+1)·E/W) (E must be divisible by W). Routing is unchanged: every rank
// routes its own tokens with the full, replicated router, exactly as a single process would. Only
// the expert compute moves: the dispatched buffer [E, M_r, D] goes out with one all-to-all (rank q
// receives its experts' slots from every rank p: [E/W, M_p, D]), the held experts run as one
// batched GEMM over [E/W, Σ_p M_p, D], and a second all-to-all brings the outputs home, where they
// are combined as before. Both all-to-alls are autograd functions whose backward is the reverse
// all-to-all, so expert gradients arrive where the experts live and stay there.
//
// Checkpoints hold full tensors: gather() assembles the expert blocks of weights and optimizer
// moments from every rank (one file a single process loads); localize() cuts a full tensor down to
// this rank's block, so a checkpoint written by N ranks resumes on any M that divides E.
#pragma once

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "smx/dist/process_group.h"
#include "smx/io/safetensors.h"
#include "smx/model/sparse_mixer.h"

namespace smx::dist {

// Differentiable all-to-all over rows of dim 0: input [Σ in_rows, ...] -> [Σ out_rows, ...], where
// in_rows[q] rows go to rank q and out_rows[p] rows come from rank p. Backward: the reverse.
at::Tensor all_to_all_rows(ProcessGroup& group, const at::Tensor& input,
                           std::vector<int64_t> in_rows, std::vector<int64_t> out_rows);

class ExpertParallel {
 public:
  // Narrows every MoE layer's expert tensors to this rank's block and installs the all-to-all
  // runner. Call on identical full weights on every rank, before the optimizer is built.
  ExpertParallel(std::shared_ptr<ProcessGroup> group, model::SparseMixer& model);

  // Parameter names (as named_parameters() spells them) of the sharded expert tensors.
  const std::set<std::string>& expert_names() const { return names_; }
  bool is_expert(const std::string& name) const { return names_.count(name) > 0; }

  // Expert tensors named `prefix + name` become full [E, ...] (collective: every rank calls it with
  // the same list), or this rank's [E/W, ...] block. Other tensors are left alone.
  void gather(std::vector<io::NamedTensor>& tensors, const std::string& prefix = "") const;
  void localize(std::vector<io::NamedTensor>& tensors, const std::string& prefix = "") const;

  // load_model_weights on a full-size weights file, keeping this rank's expert blocks.
  void load_weights(model::SparseMixer& model, const std::string& path) const;
  // Collective: full expert tensors back in the model, runners removed (to save final weights).
  void unshard(model::SparseMixer& model);

 private:
  std::shared_ptr<ProcessGroup> group_;
  int64_t experts_ = 0, held_ = 0;  // E and E/W
  std::set<std::string> names_;
};

}  // namespace smx::dist
