#include "smx/model/attention.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include <torch/torch.h>

#include "smx/model/dropout.h"
#include "smx/model/slice.h"
#include "smx/ops/cpu_matmul.h"
#include "smx/ops/softmax.h"

namespace smx::model {
namespace {

// The most negative finite value of `type` (a float's lowest would round to -inf in bf16, and a
// row of -inf turns the softmax into NaN).
double lowest_finite(at::ScalarType type) {
  switch (type) {
    case at::kBFloat16:
      return static_cast<double>(std::numeric_limits<c10::BFloat16>::lowest());
    case at::kHalf:
      return static_cast<double>(std::numeric_limits<c10::Half>::lowest());
    default:
      return static_cast<double>(std::numeric_limits<float>::lowest());
  }
}

}  // namespace

SelfAttention::SelfAttention(int64_t d_model, int64_t num_heads, double dropout_rate)
    : num_heads_(num_heads), dropout_rate_(dropout_rate) {
  query = register_module("query", std::make_shared<Dense>(d_model, d_model));
  key = register_module("key", std::make_shared<Dense>(d_model, d_model));
  value = register_module("value", std::make_shared<Dense>(d_model, d_model));
  out = register_module("out", std::make_shared<Dense>(d_model, d_model));
}

at::Tensor SelfAttention::forward(const MixingInput& input) {
  const at::Tensor& x = input.x;
  const int64_t B = x.size(0), N = x.size(1), D = x.size(2), H = num_heads_, Dh = D / H;
  // [B, H, N, Dh], contiguous: one copy per tensor for the whole batch, after which every slice of
  // examples is contiguous too (q·kᵀ reads k transposed in place).
  auto heads = [&](const at::Tensor& t) {
    return t.view({B, N, H, Dh}).transpose(1, 2).contiguous();
  };
  // q·kᵀ/√Dh with the scale on q ([N, Dh] per head) instead of the logits ([N, N]); exact for
  // the power-of-two √Dh of every preset (Dh = 64).
  const at::Tensor q = heads(query->forward(x) * (1.0 / std::sqrt(static_cast<double>(Dh))));
  const at::Tensor k = heads(key->forward(x));  // [B, H, N, Dh]
  const at::Tensor v = heads(value->forward(x));

  // CPU inference takes a few examples at a time, so that their [H, N, N] scores stay in cache
  // from q·kᵀ through the softmax to ·v instead of making four trips to memory; training keeps the
  // whole batch (the backward pass needs every probability anyway), and so do GPUs (whose kernels
  // want the whole batch's parallelism).
  const int64_t scores_bytes = H * N * N * static_cast<int64_t>(q.element_size());  // per example
  const int64_t chunk =
      is_training() || !x.device().is_cpu() || inference_scores_bytes <= 0 || scores_bytes == 0
          ? B
          : std::max<int64_t>(1, inference_scores_bytes / scores_bytes);
  if (chunk >= B)
    return out->forward(attend(q, k, v, input, 0, B).transpose(1, 2).reshape({B, N, D}));
  at::Tensor context = at::empty({B, N, H, Dh}, q.options());  // [B, N, H, Dh]
  for (int64_t b0 = 0; b0 < B; b0 += chunk) {
    const int64_t c = std::min(chunk, B - b0);
    context.narrow(0, b0, c).copy_(attend(q, k, v, input, b0, c).transpose(1, 2));
  }
  return out->forward(context.view({B, N, D}));
}

at::Tensor SelfAttention::attend(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                                 const MixingInput& input, int64_t first, int64_t count) const {
  const int64_t N = q.size(2);
  const at::Tensor qc = narrow_or_self(q, 0, first, count), kc = narrow_or_self(k, 0, first, count);
  // CPU inference through oneDNN where it applies (ops/cpu_matmul.h: fp32 ~2x ATen's bmm).
  at::Tensor logits = ops::cpu_matmul(qc, kc.transpose(-2, -1));  // [c, H, N, N]
  if (!logits.defined()) logits = at::matmul(qc, kc.transpose(-2, -1));
  // Without pads the mask is all true: skip a pass over [c, H, N, N] (and its backward).
  if (input.has_pads) {
    // [c, 1, N, N]: a pad query row masks every key and so ends up attending uniformly.
    const at::Tensor valid = narrow_or_self(input.valid, 0, first, count);
    const at::Tensor mask = (valid.unsqueeze(2) & valid.unsqueeze(1)).unsqueeze(1);
    logits = logits.masked_fill(mask.logical_not(), lowest_finite(logits.scalar_type()));
  }
  // [c, H, N, N] in the logits' dtype: bf16 under autocast, not an fp32 round trip. Dropout on
  // the probabilities takes one [N, N] mask for every example and head, in the softmax's own pass
  // where the counter-based masks run (model/dropout.h), else as an ATen Bernoulli draw.
  const ops::FusedDropout fused = fused_dropout_for(logits, dropout_rate_, is_training());
  at::Tensor probs = ops::softmax_dropout_last_dim(logits, fused);
  if (fused.rate == 0 && is_training() && dropout_rate_ > 0) {
    const double keep = 1.0 - dropout_rate_;
    const at::Tensor drop = at::bernoulli(at::full({1, 1, N, N}, keep, probs.options())) / keep;
    probs = probs * drop;
  }
  const at::Tensor vc = narrow_or_self(v, 0, first, count);
  const at::Tensor context = ops::cpu_matmul(probs, vc);  // [c, H, N, Dh]
  return context.defined() ? context : at::matmul(probs, vc);
}

}  // namespace smx::model
