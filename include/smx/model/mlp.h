// Dense MLP sublayer (docs/design.md §1.5): Dropout(W2 · gelu(W1 · x + b1) + b2), GELU's tanh form
// unless the config's hidden_act asks for the exact one. forward() stops before the dropout: the
// encoder block applies it, inside its add & norm pass where the counter-based kernels run.
#pragma once

#include "smx/model/dense.h"
#include "smx/ops/bias_gelu.h"

namespace smx::model {

class Mlp : public torch::nn::Module {
 public:
  Mlp(int64_t d_model, int64_t d_ff, double dropout_rate,
      ops::GeluKind gelu = ops::GeluKind::kTanh);
  // W2 · gelu(W1 · x + b1) + b2 without the dropout: [..., D] -> [..., D]. The encoder block
  // applies dropout_rate() itself, inside its add & norm pass where it can (model/dropout.h).
  // CPU inference without gradients runs over tiles of 1024 rows (docs/design.md §7.5).
  at::Tensor forward(const at::Tensor& x) const;
  double dropout_rate() const { return dropout_rate_; }

  std::shared_ptr<Dense> intermediate;  // kernel [D, F]
  std::shared_ptr<Dense> output;        // kernel [F, D]

 private:
  double dropout_rate_;
  ops::GeluKind gelu_;
  // CPU inference over row tiles (mlp.cpp): [T, D] -> [T, D].
  at::Tensor forward_tiles(const at::Tensor& x) const;
};

}  // namespace smx::model
