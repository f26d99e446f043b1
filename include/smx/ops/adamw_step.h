// One AdamW update of a parameter in one pass over memory (docs/design.md §5, optax semantics):
//   m ← β1·m + (1-β1)·g
//   v ← β2·v + (1-β2)·g²
//   p ← p·(1 - lr·wd) - (lr / c1) · m / (√(v / c2) + ε)      c1, c2: bias corrections
// The ATen composition reads and writes each parameter-sized tensor about 9 times (3x the bytes
// of this pass); with 182M parameters in Sparse Mixer Base that is most of an optimizer step.
// Mixed precision: the gradient may be bf16 (read into fp32 math), and a bf16 copy of the weight
// (model/compute_weights.h) is written from the new fp32 p in the same pass, rounded to nearest
// even exactly as p.to(bf16).
// Fast path: contiguous CPU tensors, p/m/v fp32 (AVX-512 when available); otherwise the ATen ops.
#pragma once

#include <ATen/core/Tensor.h>

namespace smx::ops {

struct AdamWCoefficients {
  double lr = 0, beta1 = 0.9, beta2 = 0.999, eps = 1e-6, weight_decay = 0;
  double correction1 = 1, correction2 = 1;  // 1 - β1^t, 1 - β2^t
};

// Updates p, m and v in place from g (all the same shape; g fp32 or bf16).
void adamw_step(at::Tensor& p, const at::Tensor& g, at::Tensor& m, at::Tensor& v,
                const AdamWCoefficients& c);
// The same, and `copy` (bf16, p's shape; undefined for none) ← p.to(bf16) in the same pass.
void adamw_step(at::Tensor& p, const at::Tensor& g, at::Tensor& m, at::Tensor& v,
                const AdamWCoefficients& c, at::Tensor& copy);

}  // namespace smx::ops
