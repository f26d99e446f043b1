// A random pre-training batch of the right shapes for timing, in the trainer's batch struct
// (smx::Batch): ids, types, masked positions, MLM labels/weights and NSP labels
// (docs/design.md §3, §4.3 shapes; the values mean nothing).
#pragma once

#include <cstdint>

#include "smx/config/model_config.h"
#include "smx/data/batch.h"
#include "smx/train/pretraining_loss.h"

namespace smx::bench {

// On the CPU. input_ids [B, N] hold pads (pad_id) from position `real_length` on; type_ids are 0
// for the first half of the real tokens and 1 after; masked_lm_positions [B, P] are sorted,
// distinct and inside the real tokens after [CLS]; masked_lm_weights are all 1. P =
// accounting::max_predictions_for(real_length) (80 per 512 tokens). real_length 0 = N.
Batch make_synthetic_batch(const ModelConfig& config, int64_t batch, int64_t seq_len, uint64_t seed,
                           int64_t real_length = 0);

}  // namespace smx::bench
