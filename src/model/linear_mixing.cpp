#include "smx/model/linear_mixing.h"

#include <torch/torch.h>

#include "smx/model/dense.h"

namespace smx::model {

LinearMixing::LinearMixing(int64_t max_seq_len, int64_t d_model) {
  input_kernel = register_parameter("input_kernel", normal_002({max_seq_len, max_seq_len}));
  hidden_kernel = register_parameter("hidden_kernel", normal_002({d_model, d_model}));
}

at::Tensor LinearMixing::forward(const MixingInput& input) {
  const int64_t N = input.x.size(1);
  const at::Tensor w_s = input_kernel.narrow(0, 0, N).narrow(1, 0, N);  // [N, N]
  // Hidden axis first: one [B*N, D] x [D, D] GEMM, then a batched [N, N] x [N, D] product.
  return at::matmul(w_s, at::matmul(input.x, hidden_kernel));
}

}  // namespace smx::model
