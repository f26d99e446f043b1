// TrainingSession: what a training loop (pre-training, fine-tuning) calls at each point of a step
// so that it runs as one of W cooperating processes. Without a process group every call is the
// identity or a no-op, so the loop reads the same single- and multi-process:
//
//   TrainingSession dist(options.dist);              // the default group, if any
//   device = dist.device(device);                    // cuda -> cuda:LOCAL_RANK
//   stream options -> dist.train_stream(...)          // sharding (dist_options.h)
//   model = TrainingSession::make_model(config, seed, resume)  // no random init when resuming
//   model built -> dist.prepare_model(model)         // rank 0's weights; expert blocks under EP
//   (resume: dist.load_weights, dist.restore(contents))
//   per micro-batch: batch = dist.local_batch(...); total = dist.global_loss(...); backward
//   dist.sync_gradients(); optimizer step; dist.after_step(step)
//   dist.any(stop) at the top of a step; dist.mean()/dist.sum() for logged numbers
//   checkpoint: dist.gather(contents) on every rank, then rank 0 (primary()) saves
//   end: dist.finish(model) before saving final weights on rank 0
//
// Only rank 0 writes files; every rank must make the same sequence of calls.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "smx/data/pretraining_options.h"
#include "smx/dist/dist_options.h"
#include "smx/dist/process_group.h"
#include "smx/io/checkpoint.h"
#include "smx/model/sparse_mixer.h"

namespace smx::dist {

class ExpertParallel;
class GradientSync;

class TrainingSession {
 public:
  explicit TrainingSession(DistOptions options,
                           std::shared_ptr<ProcessGroup> group = default_group());
  ~TrainingSession();

  bool distributed() const { return group_ != nullptr; }
  int64_t rank() const;
  int64_t world_size() const;
  bool primary() const { return rank() == 0; }  // the rank that logs and writes checkpoints
  const DistOptions& options() const { return options_; }
  ProcessGroup* group() const { return group_.get(); }

  // "cuda" without an index becomes cuda:LOCAL_RANK in a distributed job.
  at::Device device(const at::Device& requested) const;

  // ---- data ----
  // The training stream this rank reads (see DistOptions::shard); `o.batch_size` is per rank.
  PretrainingOptions train_stream(PretrainingOptions o) const;
  // With "examples" sharding, this rank's examples [r·b, (r+1)·b) of the global batch.
  std::optional<PretrainingBatch> local_batch(std::optional<PretrainingBatch> batch) const;

  // ---- model and gradients ----
  // The model a training loop builds, seeded with `seed`. With `weights_follow` (a resume:
  // load_weights overwrites every parameter next) it is built without the random initialisation
  // (model::SkipParameterInit), as a model folder is loaded: Base-size models build in a fraction
  // of the time. prepare_model then broadcasts rank 0's uninitialised tensors, which the load
  // replaces on every rank.
  static std::shared_ptr<model::SparseMixer> make_model(const ModelConfig& config, uint64_t seed,
                                                        bool weights_follow);
  // Rank 0's weights on every rank, then (expert parallel) each rank keeps its expert blocks.
  // Call once the weights are final, before building the optimizer. Also gives each rank its own
  // dropout stream (seeded from `seed` and the rank).
  void prepare_model(model::SparseMixer& model, uint64_t seed);
  // Loads a full weights file into a prepared model (expert blocks cut out under EP).
  void load_weights(model::SparseMixer& model, const std::string& path) const;
  // A term of the loss that is a mean over `count` units of this rank's batch (masked slots,
  // routed tokens), when ranks may hold different counts.
  struct MeanTerm {
    at::Tensor term;  // [] differentiable, part of the total
    double count;
  };
  // The per-rank loss whose mean over ranks is the global batch's loss: each mean term is weighted
  // by W · count / (sum of count over ranks) (one small all-reduce). Terms that are means over
  // equal-sized shards (NSP, classification) need no entry.
  at::Tensor global_loss(const at::Tensor& total, const std::vector<MeanTerm>& terms) const;
  void sync_gradients();          // after backward
  void after_step(int64_t step);  // replica check every check_every steps

  // ---- agreement and logging ----
  bool any(bool local) const;                          // true on every rank if true on one
  double mean(double local) const;                     // over ranks
  void sum(const std::vector<double*>& values) const;  // in place, over ranks

  // ---- checkpoints ----
  // Collective: full expert tensors, every rank's RNG and (documents sharding) data state.
  void gather(io::CheckpointContents& contents) const;
  // The reverse, for this rank: its expert blocks, RNG and data state. Fails clearly when the
  // checkpoint's data state cannot be continued on this number of ranks.
  void restore(io::CheckpointContents& contents) const;
  // Collective: the model back to full expert tensors (to save final weights).
  void finish(model::SparseMixer& model);

 private:
  DistOptions options_;
  std::shared_ptr<ProcessGroup> group_;
  std::unique_ptr<ExpertParallel> experts_;
  std::unique_ptr<GradientSync> gradients_;
  uint64_t seed_ = 0;
};

// In a distributed job (default group set), re-throws `error` as smx::Error "rank R of W: ..."
// unless it already names the rank, so that the launcher's output says which process failed.
// Without a group, re-throws it unchanged.
[[noreturn]] void rethrow_naming_rank(const std::exception& error);

}  // namespace smx::dist
