// LayerNorm(x + residual) in one pass, differentiable: the post-LN block's "add & norm"
// (docs/design.md §1.4) without materialising the sum. Statistics in fp32 whatever the inputs'
// dtypes; the output in fp32 (the scale's dtype) by default, or bf16 when asked: with bf16
// activations end to end (model/compute_weights.h) the residual stream stays bf16 and the next
// GEMMs read it without a cast. Gradients of x and residual come back in their own dtypes; with a
// bf16 output the incoming gradient is read as bf16 and the input gradient computed in fp32 is
// rounded once.
//
// Backward recomputes x + residual from the two saved inputs and gives scale and bias gradients
// from the same pass. Fast path: CPU, fp32/bf16, contiguous; elsewhere the ATen composition.
#pragma once

#include <optional>

#include <ATen/core/Tensor.h>

#include "smx/ops/dropout.h"  // FusedDropout

namespace smx::ops {

// x, residual: [..., D] (same shape; fp32 or bf16 each); scale, bias: [D] fp32. Returns [..., D]
// in `out_dtype` (fp32 or bf16; scale's dtype when unset). With `dropout` the pass normalises
// dropout(x) + residual, the mask drawn inside the pass (ops/dropout.h) and recomputed in backward.
at::Tensor add_layer_norm(const at::Tensor& x, const at::Tensor& residual, const at::Tensor& scale,
                          const at::Tensor& bias, double eps,
                          std::optional<at::ScalarType> out_dtype = std::nullopt,
                          const FusedDropout& dropout = {});

// The plain ATen composition (tests' reference and the non-CPU path).
at::Tensor add_layer_norm_reference(const at::Tensor& x, const at::Tensor& residual,
                                    const at::Tensor& scale, const at::Tensor& bias, double eps);

}  // namespace smx::ops
