// Dense MLP sublayer (docs/design.md §1.5): Dropout(W2 · gelu_tanh(W1 · x + b1) + b2).
#pragma once

#include "smx/model/dense.h"

namespace smx::model {

class Mlp : public torch::nn::Module {
 public:
  Mlp(int64_t d_model, int64_t d_ff, double dropout_rate);
  at::Tensor forward(const at::Tensor& x) const;  // [..., D] -> [..., D]

  std::shared_ptr<Dense> intermediate;  // kernel [D, F]
  std::shared_ptr<Dense> output;        // kernel [F, D]

 private:
  double dropout_rate_;
};

}  // namespace smx::model
