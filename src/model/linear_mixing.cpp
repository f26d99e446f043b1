#include "smx/model/linear_mixing.h"

#include <torch/torch.h>

#include "smx/model/compute_weights.h"
#include "smx/model/dense.h"
#include "smx/model/slice.h"
#include "smx/ops/cpu_matmul.h"
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
  const at::Tensor w_h = compute_weight(hidden_kernel);  // [D, D]
  const at::Tensor w_s =
      narrow_or_self(narrow_or_self(compute_weight(input_kernel), 0, 0, N), 1, 0, N);  // [N, N]
  if (!ops::fused_kernels_enabled())  // the broadcast form, for `smx bench --ablation fused`
    return at::matmul(w_s, at::matmul(x, w_h));
  // The hidden axis as one GEMM over [B·N, D]; the sequence axis as a batched product over a
  // materialised [B, N, N] copy of W_s (B·N² elements, small beside the activations). Its output
  // is [B, N, D] in order, so no activation is transposed either way: the [N, B·D] form needs a
  // transpose copy before the product and after it (and in backward), and ATen's bmm over a
  // stride-0 expanded W_s runs ~2x slower (bench/README.md, speed log).
  const at::Tensor x2 = x.reshape({B * N, D});
  at::Tensor y = ops::cpu_matmul(x2, w_h);  // [B·N, D]: oneDNN in CPU inference, else ATen
  y = (y.defined() ? y : at::mm(x2, w_h)).view({B, N, D});  // [B, N, D]
  // CPU inference calls oneDNN itself, which takes W_s as a [1, N, N] operand broadcast over the
  // batch: no copy (ops/cpu_matmul.h).
  const at::Tensor out = ops::cpu_matmul(w_s.unsqueeze(0), y);
  if (out.defined()) return out;
  return at::bmm(w_s.expand({B, N, N}).contiguous(), y);  // [B, N, D]
}

}  // namespace smx::model
