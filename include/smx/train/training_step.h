// One optimizer step, the same for pre-training and fine-tuning (docs/design.md §5):
//   for each of the step's micro-batches: forward + loss (the caller's function, which owns the
//   batch, autocast and its own statistics), the loss made the global batch's
//   (dist::TrainingSession::global_loss), a finite check, backward of loss / micro-batches;
//   then the gradient all-reduce, clipping of the global norm, AdamW at `lr`, zero grad and the
//   session's after-step checks.
// One loop for both means gradient accumulation, clipping and the non-finite stop behave the same
// in `smx pretrain`, `smx finetune` and in the Table 8 benchmark, in one process and in W.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "smx/dist/training_session.h"
#include "smx/model/sparse_mixer.h"
#include "smx/train/adamw.h"

namespace smx::train {

// What a micro-batch's forward returns.
struct MicroBatchLoss {
  at::Tensor total;  // [] differentiable loss of this rank's micro-batch
  // Terms of `total` that are means over a count that may differ by rank (masked MLM slots,
  // routed tokens): see dist::TrainingSession::global_loss.
  std::vector<dist::TrainingSession::MeanTerm> mean_terms;
};

class TrainingStep {
 public:
  // `clip_norm` > 0 clips the global gradient norm to it before the optimizer step.
  TrainingStep(model::SparseMixer& model, AdamW& optimizer, dist::TrainingSession& dist,
               double clip_norm);

  // Runs optimizer step number `step` (0-based) over `micro_batches` micro-batches. Returns the
  // step's loss: the mean over its micro-batches of the global batch's loss (identical on every
  // rank). A loss that is not finite stops every rank together with smx::Error saying
  // `describe_nonfinite(value, step + 1)`.
  double run(int64_t step, double lr, int64_t micro_batches,
             const std::function<MicroBatchLoss(int64_t micro)>& forward_loss,
             const std::function<std::string(double value, int64_t step)>& describe_nonfinite);

 private:
  model::SparseMixer& model_;
  AdamW& optimizer_;
  dist::TrainingSession& dist_;
  double clip_norm_;
};

}  // namespace smx::train
