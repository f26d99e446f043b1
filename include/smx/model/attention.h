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

 private:
  // Context of examples [first, first + count): q, k, v [B, H, N, Dh] -> [count, H, N, Dh].
  at::Tensor attend(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                    const MixingInput& input, int64_t first, int64_t count) const;

  int64_t num_heads_;
  double dropout_rate_;
};

}  // namespace smx::model
