#include "smx/bench/pretraining_step.h"

namespace smx::bench {

at::Tensor pretraining_loss(const model::SparseMixerOutput& out, const PretrainingBatch& batch,
                            const ModelConfig& config) {
  const at::Tensor mlm_logits = out.mlm_logits.to(torch::kFloat);  // [B, P, V]
  const int64_t V = mlm_logits.size(2);
  const at::Tensor mlm_ce =
      at::cross_entropy_loss(mlm_logits.reshape({-1, V}), batch.mlm_labels.reshape({-1}), {},
                             at::Reduction::None);  // [B*P]
  const at::Tensor w = batch.mlm_weights.reshape({-1});
  const at::Tensor mlm = (mlm_ce * w).sum() / w.sum().clamp_min(1.0);
  const at::Tensor nsp =
      at::cross_entropy_loss(out.classification_logits.to(torch::kFloat), batch.nsp_labels);
  return mlm + nsp + config.auxiliary_loss_factor * out.encoder.aux_loss.sum() +
         config.router_z_loss_factor * out.encoder.z_loss.sum();
}

std::unique_ptr<train::AdamW> make_adamw(model::SparseMixer& model) {
  return std::make_unique<train::AdamW>(model, train::AdamWOptions{0.9, 0.999, 1e-6, 0.01});
}

double pretraining_step(model::SparseMixer& model, train::AdamW& optimizer,
                        const PretrainingBatch& batch, double lr) {
  model.train();
  // Drop the gradients instead of zeroing them (no memset of every parameter's gradient).
  for (auto& p : model.parameters()) p.mutable_grad() = at::Tensor();
  const model::SparseMixerOutput out =
      model.forward(batch.input_ids, batch.type_ids, batch.positions);
  const at::Tensor loss = pretraining_loss(out, batch, model.config());
  loss.backward();
  optimizer.step(lr);
  return loss.item<double>();
}

at::Tensor inference_forward(model::SparseMixer& model, const PretrainingBatch& batch) {
  model.eval();
  torch::NoGradGuard no_grad;
  const model::SparseMixerOutput out = model.forward(batch.input_ids, batch.type_ids);
  return out.classification_logits;
}

}  // namespace smx::bench
