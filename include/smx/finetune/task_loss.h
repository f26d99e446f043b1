// Fine-tuning objective (docs/design.md §3.5): the plain mean task loss, without the reference's
// second division by the label count, plus the config's MoE losses:
//   classification, MultiRC: mean softmax cross-entropy over the batch;
//   regression (STS-B), ranking (COPA, ReCoRD): mean squared error of the single output;
//   total = task + aux_factor · Σ load-balancing + z_factor · Σ router z-loss.
#pragma once

#include <ATen/core/Tensor.h>

#include "smx/model/sparse_mixer.h"
#include "smx/tasks/task_registry.h"

namespace smx::finetune {

struct TaskLoss {
  at::Tensor total;   // [] differentiable
  at::Tensor z_term;  // [] z_factor · Σ z-loss, part of total (a mean over routed tokens, dist/)
  double task = 0, aux = 0, z = 0;
  // Training accuracy where it means something: argmax = label (classification, MultiRC), or
  // (score > 0.5) = label for ranking candidates; count 0 for regression.
  double correct = 0, count = 0;
};

// out.classification_logits: [B, spec.num_outputs()]; labels: [B] fp32.
TaskLoss task_loss(const tasks::TaskSpec& spec, const model::SparseMixerOutput& out,
                   const at::Tensor& labels, double aux_factor, double z_factor);

}  // namespace smx::finetune
