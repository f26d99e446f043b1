// Pre-training objective (docs/design.md §3): weighted MLM cross-entropy + NSP cross-entropy
// + aux_factor · Σ load-balancing + z_factor · Σ router z-loss, with the accuracies the logs show.
#pragma once

#include <ATen/core/Tensor.h>

#include "smx/data/batch.h"
#include "smx/data/pretraining_data.h"
#include "smx/model/sparse_mixer.h"

namespace smx::train {

// A PretrainingBatch as tensors on a device, with its MLM and NSP targets.
Batch to_tensors(const PretrainingBatch& batch, const at::Device& device, int64_t pad_id);

struct PretrainingLoss {
  at::Tensor total;             // [] differentiable
  at::Tensor mlm_term, z_term;  // [] differentiable parts of total (reweighted across ranks, dist/)
  double mlm = 0, nsp = 0, aux = 0, z = 0;
  double mlm_correct = 0, mlm_count = 0;  // weighted counts over masked positions
  double nsp_correct = 0, nsp_count = 0;
};

PretrainingLoss pretraining_loss(const model::SparseMixerOutput& out, const Batch& batch,
                                 double aux_factor, double z_factor);

}  // namespace smx::train
