#include "smx/model/linear_mixing.h"

#include <torch/torch.h>

#include "smx/model/compute_weights.h"
#include "smx/model/dense.h"
#include "smx/ops/fused_kernels.h"

namespace smx::model {

LinearMixing::LinearMixing(int64_t max_seq_len, int64_t d_model) {
  input_kernel = register_parameter("input_kernel", normal_002({max_seq_len, max_seq_len}));
  hidden_kernel = register_parameter("hidden_kernel", normal_002({d_model, d_model}));
}

at::Tensor LinearMixing::forward(const MixingInput& input) {
  const at::Tensor& x = input.x;
  const int64_t B = x.size(0), N = x.size(1), D = x.size(2);
  // Both matrices in the compute dtype (bf16 copies under bf16 autocast, model/compute_weights.h).
  const at::Tensor w_h = compute_weight(hidden_kernel);                                 // [D, D]
  const at::Tensor w_s = compute_weight(input_kernel).narrow(0, 0, N).narrow(1, 0, N);  // [N, N]
  if (!ops::fused_kernels_enabled())  // the broadcast form, for `smx bench --ablation fused`
    return at::matmul(w_s, at::matmul(x, w_h));
  // Two plain GEMMs (a broadcast [N, N] x [B, N, D] matmul runs as a slower batched product):
  // the hidden axis over [B·N, D], then the sequence axis over [N, B·D] for the whole batch.
  const at::Tensor y = at::mm(x.reshape({B * N, D}), w_h);                       // [B·N, D]
  const at::Tensor y_t = y.view({B, N, D}).transpose(0, 1).reshape({N, B * D});  // [N, B·D]
  return at::mm(w_s, y_t).view({N, B, D}).transpose(0, 1);  // [B, N, D], a strided view
}

}  // namespace smx::model
