// A random pre-training batch of the right shapes for timing: ids, types, masked positions,
// MLM labels/weights and NSP labels (docs/design.md §3, §4.3 shapes; the values mean nothing).
#pragma once

#include <cstdint>

#include <torch/types.h>

#include "smx/config/model_config.h"

namespace smx::bench {

struct PretrainingBatch {
  at::Tensor input_ids;    // [B, N] int64; pads (pad_id) from position `real_length` on
  at::Tensor type_ids;     // [B, N] int64: 0 for the first half of the real tokens, 1 after
  at::Tensor positions;    // [B, P] int64 masked positions, sorted, inside the real tokens
  at::Tensor mlm_labels;   // [B, P] int64
  at::Tensor mlm_weights;  // [B, P] float, all 1
  at::Tensor nsp_labels;   // [B] int64 in {0, 1}
};

// P = accounting::max_predictions_for(real_length) (80 per 512 tokens). real_length 0 = N.
PretrainingBatch make_synthetic_batch(const ModelConfig& config, int64_t batch, int64_t seq_len,
                                      uint64_t seed, int64_t real_length = 0);

}  // namespace smx::bench
