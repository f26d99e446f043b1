#include "smx/model/sparse_mixer.h"

namespace smx::model {

SparseMixer::SparseMixer(const ModelConfig& config, int64_t num_outputs) {
  encoder = register_module("encoder", std::make_shared<Encoder>(config));
  mlm = register_module("mlm", std::make_shared<MlmHead>(config));
  classification =
      register_module("classification", std::make_shared<Dense>(config.d_model, num_outputs));
}

SparseMixerOutput SparseMixer::forward(const at::Tensor& input_ids, const at::Tensor& type_ids,
                                       const at::Tensor& masked_lm_positions) {
  SparseMixerOutput out;
  out.encoder = encoder->forward(input_ids, type_ids);
  if (masked_lm_positions.defined())
    out.mlm_logits =
        mlm->forward(out.encoder.hidden, masked_lm_positions, encoder->embedder->word_embeddings);
  out.classification_logits = classification->forward(out.encoder.pooled);
  return out;
}

}  // namespace smx::model

#include <torch/torch.h>

namespace smx::model {

std::shared_ptr<SparseMixer> make_sparse_mixer(const ModelConfig& config, uint64_t seed,
                                               int64_t num_outputs) {
  torch::manual_seed(seed);
  return std::make_shared<SparseMixer>(config, num_outputs);
}

}  // namespace smx::model
