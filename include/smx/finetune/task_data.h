// Fine-tuning inputs (docs/design.md §4.4): task examples tokenized once into [CLS] s0 [SEP] s1
// [SEP] ..., then batched. Batches are padded with the config's pad_id to
// config.padded_length(longest): max_seq_len under `reference` padding, the longest member rounded
// up to pad_to_multiple under `masked` padding (whose outputs do not depend on the padding,
// docs/design.md §7.1).
#pragma once

#include <cstdint>
#include <vector>

#include <ATen/core/Tensor.h>

#include "smx/config/model_config.h"
#include "smx/data/batch.h"
#include "smx/tasks/input_format.h"
#include "smx/tasks/task_example.h"
#include "smx/tasks/task_registry.h"
#include "smx/tokenizer/tokenizer.h"

namespace smx::finetune {

struct EncodedExamples {
  std::vector<tasks::EncodedInput> inputs;  // [n], each at most max_len tokens
  std::vector<float> labels;                // [n]: class id, target, or 0/1 (0 when unlabelled)

  size_t size() const { return inputs.size(); }
  std::vector<int64_t> lengths() const;
};

// Tokenizes every example's segments (hard-truncated at max_len, docs/design.md §4.4).
EncodedExamples encode_examples(const std::vector<tasks::TaskExample>& examples,
                                const Tokenizer& tokenizer, int64_t max_len);

// The examples `rows` of `data` as one batch on `device` with its task labels,
// N = config.padded_length(longest).
Batch make_batch(const EncodedExamples& data, const std::vector<size_t>& rows,
                 const ModelConfig& config, const at::Device& device);

// The training order: `epochs` seeded permutations of the n examples back to back, cut into
// floor(n·epochs / batch) batches of exactly `batch` rows (docs/design.md §5's step count; the
// remainder is dropped, and at least one batch is made). With `bucket`, each window of 50 batches
// is sorted by length before it is cut, and its batches are shuffled again, so that batches padded
// to their longest member waste little (for `masked` padding).
std::vector<std::vector<size_t>> training_batches(const std::vector<int64_t>& lengths,
                                                  int64_t epochs, int64_t batch, bool bucket,
                                                  uint64_t seed);

// Every example once, in batches of at most `batch` rows: in order, or by length with `bucket`.
std::vector<std::vector<size_t>> inference_batches(const std::vector<int64_t>& lengths,
                                                   int64_t batch, bool bucket);

}  // namespace smx::finetune
