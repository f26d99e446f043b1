// SparseMixer: the encoder with its output heads (docs/design.md §3): the MLM head tied to the word
// embeddings and the `classification` head on the pooled output (2 outputs for NSP in
// pre-training; the task's classes, or 1 for regression and ranking, in fine-tuning).
#pragma once

#include "smx/model/encoder.h"
#include "smx/model/mlm_head.h"

namespace smx::model {

struct SparseMixerOutput {
  EncoderOutput encoder;
  at::Tensor mlm_logits;             // [B, P, V] (undefined without masked positions)
  at::Tensor classification_logits;  // [B, num_outputs]
};

class SparseMixer : public torch::nn::Module {
 public:
  // num_outputs: 2 for NSP pre-training; the task's output count for fine-tuning.
  SparseMixer(const ModelConfig& config, int64_t num_outputs = 2);
  // input_ids, type_ids: [B, N]; masked_lm_positions: [B, P] or undefined.
  SparseMixerOutput forward(const at::Tensor& input_ids, const at::Tensor& type_ids,
                            const at::Tensor& masked_lm_positions = {});

  const ModelConfig& config() const { return encoder->config(); }

  std::shared_ptr<Encoder> encoder;
  std::shared_ptr<MlmHead> mlm;
  std::shared_ptr<Dense> classification;  // kernel [D, num_outputs]
};

}  // namespace smx::model

namespace smx::model {

// Builds a SparseMixer with weights drawn from `seed` (same seed, same weights, on any machine).
std::shared_ptr<SparseMixer> make_sparse_mixer(const ModelConfig& config, uint64_t seed,
                                               int64_t num_outputs = 2);

}  // namespace smx::model
