#include "smx/model/mlp.h"

#include <torch/torch.h>

namespace smx::model {

Mlp::Mlp(int64_t d_model, int64_t d_ff, double dropout_rate) : dropout_rate_(dropout_rate) {
  intermediate = register_module("intermediate", std::make_shared<Dense>(d_model, d_ff));
  output = register_module("output", std::make_shared<Dense>(d_ff, d_model));
}

at::Tensor Mlp::forward(const at::Tensor& x) const {
  const at::Tensor h = at::gelu(intermediate->forward(x), "tanh");
  return at::dropout(output->forward(h), dropout_rate_, is_training());
}

}  // namespace smx::model
