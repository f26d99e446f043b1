// Multi-head self-attention (docs/design.md §1.4): q/k/v/out Dense D->D with biases, logits
// q·kᵀ/√(D/H), padding mask valid_q ∧ valid_k, dropout on the probabilities with one mask shared
// across batch and heads (Flax broadcast_dropout).
#pragma once

#include "smx/model/dense.h"
#include "smx/model/mixing.h"

namespace smx::model {

class SelfAttention : public Mixing {
 public:
  SelfAttention(int64_t d_model, int64_t num_heads, double dropout_rate);
  at::Tensor forward(const MixingInput& input) override;

  std::shared_ptr<Dense> query, key, value, out;  // kernels [D, D], biases [D]

  // Inference runs as many examples at a time as have [H, N, N] scores within this many bytes (at
  // least one), so the scores stay in cache from q·kᵀ through the softmax to ·v; <= 0: the whole
  // batch at once. About the two cores' L2 by default: at N = 512 in bf16 one BERT-Base example
  // (12 heads, 6 MiB) or one Sparse Mixer Base example (8 heads, 4 MiB) per chunk.
  int64_t inference_scores_bytes = int64_t{4} << 20;

 private:
  // Context of examples [first, first + count): q, k, v [B, H, N, Dh] -> [count, H, N, Dh].
  at::Tensor attend(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                    const MixingInput& input, int64_t first, int64_t count) const;

  int64_t num_heads_;
  double dropout_rate_;
};

}  // namespace smx::model
