#include "smx/model/mlp.h"

#include <torch/torch.h>

#include "smx/ops/bias_gelu.h"

namespace smx::model {

Mlp::Mlp(int64_t d_model, int64_t d_ff, double dropout_rate, ops::GeluKind gelu)
    : dropout_rate_(dropout_rate), gelu_(gelu) {
  intermediate = register_module("intermediate", std::make_shared<Dense>(d_model, d_ff));
  output = register_module("output", std::make_shared<Dense>(d_ff, d_model));
}

at::Tensor Mlp::forward(const at::Tensor& x) const {
  // The intermediate bias rides in the GELU pass (ops/bias_gelu.h): one pass over [.., F].
  const at::Tensor h = ops::bias_gelu(intermediate->matmul(x), intermediate->bias, gelu_);
  return output->forward(h);
}

}  // namespace smx::model
