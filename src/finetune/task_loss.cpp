#include "smx/finetune/task_loss.h"

#include <torch/torch.h>

#include "smx/core/error.h"

namespace smx::finetune {

TaskLoss task_loss(const tasks::TaskSpec& spec, const model::SparseMixerOutput& out,
                   const at::Tensor& labels, double aux_factor, double z_factor) {
  const at::Tensor logits = out.classification_logits.to(torch::kFloat);  // [B, K] fp32
  if (logits.dim() != 2 || logits.size(1) != spec.num_outputs() || logits.size(0) != labels.size(0))
    fail("task_loss {}: logits of shape [{}, {}] for {} labels; the head must have {} outputs",
         spec.display_name, logits.size(0), logits.dim() > 1 ? logits.size(1) : 0, labels.size(0),
         spec.num_outputs());
  const bool scalar_head =
      spec.kind == tasks::TaskKind::kRegression || spec.kind == tasks::TaskKind::kRanking;
  at::Tensor task;
  if (scalar_head)
    task = at::mse_loss(logits.select(1, 0), labels);
  else
    task = at::cross_entropy_loss(logits, labels.to(torch::kLong));
  const at::Tensor aux = out.encoder.aux_loss.sum(), z = out.encoder.z_loss.sum();
  TaskLoss r;
  r.z_term = z * z_factor;
  r.total = task + aux * aux_factor + r.z_term;

  torch::NoGradGuard no_grad;
  r.task = task.item<double>();
  r.aux = aux.item<double>();
  r.z = z.item<double>();
  if (spec.kind == tasks::TaskKind::kRanking) {
    r.correct = logits.select(1, 0).gt(0.5).eq(labels.gt(0.5)).sum().item<double>();
    r.count = static_cast<double>(labels.size(0));
  } else if (!scalar_head) {
    r.correct = logits.argmax(1).eq(labels.to(torch::kLong)).sum().item<double>();
    r.count = static_cast<double>(labels.size(0));
  }
  return r;
}

}  // namespace smx::finetune
