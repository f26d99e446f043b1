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

  // CPU inference runs as many examples at a time as have [H, N, N] scores within this many bytes
  // (at least one), so the scores stay in cache from q·kᵀ through the softmax to ·v; <= 0: the
  // whole batch at once. At N = 512 in bf16 the default takes one BERT-Base example (12 heads, 6
  // MiB) or two Sparse Mixer Base examples (8 heads, 4 MiB each) per chunk: `smx_bench
  // --benchmark_filter=AttentionInference` times 0, 4, 8 and 16 MiB.
  int64_t inference_scores_bytes = int64_t{8} << 20;

 private:
  // Context of examples [first, first + count): q, k, v [B, H, N, Dh] -> [count, H, N, Dh].
  at::Tensor attend(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                    const MixingInput& input, int64_t first, int64_t count) const;

  int64_t num_heads_;
  double dropout_rate_;
};

}  // namespace smx::model
