#include "smx/model/embedder.h"

#include <torch/torch.h>

#include "smx/model/dropout.h"
#include "smx/model/slice.h"

namespace smx::model {

Embedder::Embedder(const ModelConfig& config) : dropout_rate_(config.dropout_rate) {
  word_embeddings =
      register_parameter("word_embeddings", normal_002({config.vocab_size, config.d_emb}));
  position_embeddings = register_parameter(
      "position_embeddings", normal_002({config.position_table_size(), config.d_emb}));
  type_embeddings =
      register_parameter("type_embeddings", normal_002({config.type_vocab_size, config.d_emb}));
  layer_norm = register_module("layer_norm",
                               std::make_shared<LayerNorm>(config.d_emb, config.layer_norm_eps));
  if (config.embedding_projection)
    hidden_mapping_in = register_module(
        "hidden_mapping_in",
        std::make_shared<Dense>(config.d_emb, config.d_model, true, DenseInit::kLecunNormal));
}

at::Tensor Embedder::forward(const at::Tensor& input_ids, const at::Tensor& type_ids) const {
  const int64_t N = input_ids.size(1);
  at::Tensor e = at::embedding(word_embeddings, input_ids) +
                 narrow_or_self(position_embeddings, 0, 0, N) +
                 at::embedding(type_embeddings, type_ids);   // [B, N, D_e]
  at::Tensor h = layer_norm->forward(e);                     // [B, N, D_e]
  if (hidden_mapping_in) h = hidden_mapping_in->forward(h);  // [B, N, D]
  return model::dropout(h, dropout_rate_, is_training());
}

}  // namespace smx::model
