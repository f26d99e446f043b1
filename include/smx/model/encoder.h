// The Sparse Mixer / BERT encoder: embeddings, L blocks and the pooler (docs/design.md §1, §3).
#pragma once

#include <memory>
#include <vector>

#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>

#include "smx/config/model_config.h"
#include "smx/model/dense.h"
#include "smx/model/embedder.h"
#include "smx/model/encoder_block.h"

namespace smx::model {

struct EncoderOutput {
  at::Tensor hidden;    // [B, N, D] final hidden states (last block's output LayerNorm)
  at::Tensor pooled;    // [B, D] tanh(W_p · hidden[:, 0] + b_p)
  at::Tensor valid;     // [B, N] bool: input_ids != pad_id
  at::Tensor aux_loss;  // [L_moe] load-balancing loss per MoE layer (zeros for experts-choose)
  at::Tensor z_loss;    // [L_moe] router z-loss per MoE layer
};

class Encoder : public torch::nn::Module {
 public:
  explicit Encoder(const ModelConfig& config);
  // input_ids, type_ids: [B, N] int64 with N <= max_seq_len; `reference` padding with any
  // non-attention mixing or MoE layer needs N == max_seq_len.
  EncoderOutput forward(const at::Tensor& input_ids, const at::Tensor& type_ids);

  const ModelConfig& config() const { return config_; }

  std::shared_ptr<Embedder> embedder;
  torch::nn::ModuleList layers;
  std::shared_ptr<Dense> pooler;  // kernel [D, D]

 private:
  void check_inputs(const at::Tensor& input_ids, const at::Tensor& type_ids) const;

  ModelConfig config_;
};

}  // namespace smx::model
