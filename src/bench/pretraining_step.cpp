#include "smx/bench/pretraining_step.h"

namespace smx::bench {

std::unique_ptr<train::AdamW> make_adamw(model::SparseMixer& model) {
  return std::make_unique<train::AdamW>(model, train::AdamWOptions{0.9, 0.999, 1e-6, 0.01});
}

double pretraining_step(model::SparseMixer& model, train::AdamW& optimizer,
                        const train::BatchTensors& batch, double lr) {
  model.train();
  // Drop the gradients instead of zeroing them (no memset of every parameter's gradient).
  for (auto& p : model.parameters()) p.mutable_grad() = at::Tensor();
  const model::SparseMixerOutput out =
      model.forward(batch.input_ids, batch.type_ids, batch.masked_lm_positions);
  const ModelConfig& c = model.config();
  const train::PretrainingLoss loss =
      train::pretraining_loss(out, batch, c.auxiliary_loss_factor, c.router_z_loss_factor);
  loss.total.backward();
  optimizer.step(lr);
  return loss.total.item<double>();
}

at::Tensor inference_forward(model::SparseMixer& model, const train::BatchTensors& batch) {
  model.eval();
  torch::NoGradGuard no_grad;
  const model::SparseMixerOutput out = model.forward(batch.input_ids, batch.type_ids);
  return out.classification_logits;
}

}  // namespace smx::bench
