// gelu_tanh(x + bias) in one pass over memory, differentiable (docs/design.md §1.5's activation:
// the tanh approximation 0.5·v·(1 + tanh(√(2/π)·(v + 0.044715·v³))), v = x + bias).
//
// It replaces addmm's bias copy plus a separate GELU (LibTorch 1.13's tanh-GELU costs about half
// the time of the GEMM before it): the GEMM runs without bias, and this pass adds it, applies the
// activation in fp32 and rounds once to x's dtype. The backward pass recomputes v from the saved
// GEMM output and gives the bias gradient from the same pass.
//
// GeluKind::kErf is the exact GELU 0.5·v·(1 + erf(v/√2)) (Hugging Face BERT's "gelu"), with the
// same one-pass structure.
//
// Fast path: CPU tensors, fp32 or bf16, contiguous (AVX-512 when the CPU has it, else a scalar
// loop). Anywhere else (CUDA, other dtypes) it is the same function written as ATen ops.
#pragma once

#include <ATen/core/Tensor.h>

namespace smx::ops {

enum class GeluKind { kTanh, kErf };

// x: [..., F] with bias [F], or x: [G, ..., F] with bias [G, F] (a bias row per group, e.g. per
// expert). Returns gelu(x + bias) in x's dtype and shape; math in fp32.
at::Tensor bias_gelu(const at::Tensor& x, const at::Tensor& bias, GeluKind kind = GeluKind::kTanh);

// The plain composition of ATen ops that bias_gelu computes (the reference of its tests).
at::Tensor bias_gelu_reference(const at::Tensor& x, const at::Tensor& bias,
                               GeluKind kind = GeluKind::kTanh);

}  // namespace smx::ops
