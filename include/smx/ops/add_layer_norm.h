// LayerNorm(x + residual) in one pass, differentiable: the post-LN block's "add & norm"
// (docs/design.md §1.4) without materialising the sum. Statistics and output in fp32 (the scale's
// dtype), whatever the inputs' dtypes: under bf16 autocast a sublayer's bf16 output joins the fp32
// residual stream without first being cast or added as a tensor of its own.
//
// Backward recomputes x + residual from the two saved inputs and gives scale and bias gradients
// from the same pass. Fast path: CPU, fp32/bf16, contiguous; elsewhere the ATen composition.
#pragma once

#include <ATen/core/Tensor.h>

namespace smx::ops {

// x, residual: [..., D] (same shape; fp32 or bf16 each); scale, bias: [D] fp32. Returns [..., D]
// in scale's dtype.
at::Tensor add_layer_norm(const at::Tensor& x, const at::Tensor& residual, const at::Tensor& scale,
                          const at::Tensor& bias, double eps);

// The plain ATen composition (tests' reference and the non-CPU path).
at::Tensor add_layer_norm_reference(const at::Tensor& x, const at::Tensor& residual,
                                    const at::Tensor& scale, const at::Tensor& bias, double eps);

}  // namespace smx::ops
