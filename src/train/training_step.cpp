#include "smx/train/training_step.h"

#include <cmath>

#include "smx/core/error.h"
#include "smx/model/compute_weights.h"

namespace smx::train {

TrainingStep::TrainingStep(model::SparseMixer& model, AdamW& optimizer, dist::TrainingSession& dist,
                           double clip_norm)
    : model_(model), optimizer_(optimizer), dist_(dist), clip_norm_(clip_norm) {}

double TrainingStep::run(
    int64_t step, double lr, int64_t micro_batches,
    const std::function<MicroBatchLoss(int64_t micro)>& forward_loss,
    const std::function<std::string(double value, int64_t step)>& describe_nonfinite) {
  if (micro_batches < 1) fail("training step {}: no micro-batches", step + 1);
  const auto count = static_cast<double>(micro_batches);
  double step_loss = 0;
  for (int64_t micro = 0; micro < micro_batches; ++micro) {
    MicroBatchLoss l = forward_loss(micro);
    const at::Tensor total = dist_.global_loss(l.total, l.mean_terms);
    // The mean over ranks: every rank sees the same value, so a non-finite loss stops all of them.
    const double value = dist_.mean(total.item<double>());
    if (!std::isfinite(value)) throw Error(describe_nonfinite(value, step + 1));
    (total / count).backward();
    // Gradients of bf16 weight copies (model/compute_weights.h) move onto the fp32 masters where
    // they must add up across micro-batches in fp32 or be all-reduced as parameters' gradients;
    // otherwise AdamW reads them from the copies.
    if (micro_batches > 1 || dist_.distributed()) model::fold_weight_copy_grads(model_);
    step_loss += value / count;
  }
  dist_.sync_gradients();
  if (clip_norm_ > 0) clip_grad_norm(model_, clip_norm_);
  optimizer_.step(lr);
  optimizer_.zero_grad();
  dist_.after_step(step + 1);
  return step_loss;
}

}  // namespace smx::train
