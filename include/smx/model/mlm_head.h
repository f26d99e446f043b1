// Masked-LM head (docs/design.md §3): gather the hidden states at the masked positions, Dense
// D->D_e, GELU (the config's hidden_act), LayerNorm, then logits against the tied word-embedding
// table plus a vocab bias.
#pragma once

#include "smx/config/model_config.h"
#include "smx/model/dense.h"
#include "smx/ops/bias_gelu.h"

namespace smx::model {

class MlmHead : public torch::nn::Module {
 public:
  explicit MlmHead(const ModelConfig& config);
  // hidden: [B, N, D]; positions: [B, P] int64; word_embeddings: [V, D_e] -> logits [B, P, V]
  at::Tensor forward(const at::Tensor& hidden, const at::Tensor& positions,
                     const at::Tensor& word_embeddings) const;

  std::shared_ptr<Dense> dense;  // kernel [D, D_e]
  std::shared_ptr<LayerNorm> layer_norm;
  at::Tensor output_bias;  // [V]

 private:
  ops::GeluKind gelu_;
};

}  // namespace smx::model
