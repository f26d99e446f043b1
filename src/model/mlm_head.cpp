#include "smx/model/mlm_head.h"

#include <torch/torch.h>

#include "smx/model/compute_weights.h"
#include "smx/ops/bias_gelu.h"

namespace smx::model {

MlmHead::MlmHead(const ModelConfig& config)
    : gelu_(config.exact_gelu() ? ops::GeluKind::kErf : ops::GeluKind::kTanh) {
  dense = register_module("dense", std::make_shared<Dense>(config.d_model, config.d_emb));
  layer_norm = register_module("layer_norm",
                               std::make_shared<LayerNorm>(config.d_emb, config.layer_norm_eps));
  output_bias = register_parameter("output_bias", torch::zeros({config.vocab_size}));
}

at::Tensor MlmHead::forward(const at::Tensor& hidden, const at::Tensor& positions,
                            const at::Tensor& word_embeddings) const {
  const int64_t D = hidden.size(2);
  const at::Tensor gathered =
      hidden.gather(1, positions.unsqueeze(2).expand({positions.size(0), positions.size(1), D}));
  const at::Tensor u = layer_norm->forward(
      ops::bias_gelu(dense->matmul(gathered), dense->bias, gelu_));  // [B,P,D_e]
  // u · E_wordᵀ + b: [B, P, V]. The tied table through its bf16 copy under bf16 autocast (the
  // lookup reads the fp32 master), so no step casts the [V, D] table; its two gradients meet in
  // AdamW's pass.
  return at::linear(u, compute_weight(word_embeddings), output_bias);
}

}  // namespace smx::model
