// Embeddings (docs/design.md §1.1): LayerNorm(word + position + type), then the projection
// `hidden_mapping_in` D_e -> D (LeCun-normal init; absent with embedding_projection false), then
// dropout.
#pragma once

#include <memory>

#include "smx/config/model_config.h"
#include "smx/model/dense.h"

namespace smx::model {

class Embedder : public torch::nn::Module {
 public:
  explicit Embedder(const ModelConfig& config);
  // input_ids, type_ids: [B, N] int64 -> [B, N, D]
  at::Tensor forward(const at::Tensor& input_ids, const at::Tensor& type_ids) const;

  at::Tensor word_embeddings;      // [V, D_e], also the tied MLM output matrix
  at::Tensor position_embeddings;  // [position_table_size(), D_e]
  at::Tensor type_embeddings;      // [type_vocab, D_e]
  std::shared_ptr<LayerNorm> layer_norm;
  std::shared_ptr<Dense> hidden_mapping_in;  // null without embedding_projection

 private:
  double dropout_rate_;
};

}  // namespace smx::model
