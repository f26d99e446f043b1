#include "smx/bench/pretraining_step.h"

#include "smx/dist/training_session.h"
#include "smx/train/training_step.h"

namespace smx::bench {

std::unique_ptr<train::AdamW> make_adamw(model::SparseMixer& model) {
  return std::make_unique<train::AdamW>(model, train::AdamWOptions{0.9, 0.999, 1e-6, 0.01});
}

double pretraining_step(model::SparseMixer& model, train::AdamW& optimizer, const Batch& batch,
                        double lr) {
  model.train();
  dist::TrainingSession single_process{dist::DistOptions{}};
  train::TrainingStep step(model, optimizer, single_process, /*clip_norm=*/0);
  const ModelConfig& c = model.config();
  return step.run(
      0, lr, 1,
      [&](int64_t) {
        const model::SparseMixerOutput out =
            model.forward(batch.input_ids, batch.type_ids, batch.masked_lm_positions);
        const train::PretrainingLoss l =
            train::pretraining_loss(out, batch, c.auxiliary_loss_factor, c.router_z_loss_factor);
        const double routed = c.padding == Padding::kMasked
                                  ? static_cast<double>(batch.real_tokens)
                                  : static_cast<double>(batch.input_ids.numel());
        return train::MicroBatchLoss{l.total, {{l.mlm_term, l.mlm_count}, {l.z_term, routed}}};
      },
      [](double value, int64_t) { return fmt::format("benchmark step: loss is {}", value); });
}

at::Tensor inference_forward(model::SparseMixer& model, const Batch& batch) {
  model.eval();
  torch::NoGradGuard no_grad;
  const model::SparseMixerOutput out = model.forward(batch.input_ids, batch.type_ids);
  return out.classification_logits;
}

}  // namespace smx::bench
