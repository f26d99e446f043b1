// Batch: one batch of encoder inputs and its targets on a device, the one form every training,
// fine-tuning and benchmark step reads. Pre-training fills the MLM and NSP targets
// (train::to_tensors from the data pipeline's host-side PretrainingBatch, which carries the same
// fields as row-major vectors filled on worker threads); fine-tuning fills the task labels
// (finetune::make_batch). Targets a batch does not have stay undefined tensors.
#pragma once

#include <cstdint>

#include <ATen/core/Tensor.h>

namespace smx {

struct Batch {
  at::Tensor input_ids;  // [B, N] int64, padded with pad_id
  at::Tensor type_ids;   // [B, N] int64, 0 on padding
  // Pre-training targets (docs/design.md §3).
  at::Tensor masked_lm_positions;  // [B, P] int64, sorted ascending, 0-padded
  at::Tensor masked_lm_ids;        // [B, P] int64, original ids
  at::Tensor masked_lm_weights;    // [B, P] fp32, 1 for real predictions, 0 padding
  at::Tensor nsp_labels;           // [B] int64, 1 = segments in order
  // Fine-tuning target (docs/design.md §4.4).
  at::Tensor labels;        // [B] fp32: class id, regression target, or 0/1
  int64_t real_tokens = 0;  // non-pad tokens, for throughput
};

}  // namespace smx
