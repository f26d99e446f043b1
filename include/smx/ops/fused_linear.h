// A bf16 GEMM whose bias is added by the GEMM itself as it stores each output tile (a oneDNN
// post-op), for CPU inference: y = x · w + bias.
//
// ATen's addmm first fills its output with the bias and then accumulates the product onto it: one
// more pass over the [M, N] output (bench/fused_linear_bench.cpp: ~7% of a Base MLP's output
// product in bf16). Here the fp32 accumulator gets the bias before its one rounding to bf16.
//
// Measured and not used: a GELU post-op for the MLPs' first products (oneDNN 2.6 evaluates it in
// the epilogue more slowly than the GEMM followed by ops::bias_gelu), and the per-expert form for
// the experts' output products (a [E, 1, N] bias: no faster than baddbmm).
//
// Inference only: nothing is saved for backward. fused_linear() returns an undefined tensor when
// the fused path does not apply, and the caller runs its unfused op instead: a build without
// oneDNN (SMX_HAVE_ONEDNN), a non-CPU tensor, gradients wanted, x or w not bf16, the fused kernels
// switched off (ops/fused_kernels.h), empty operands, or a CPU where oneDNN has no fast kernel.
#pragma once

#include <ATen/core/Tensor.h>

namespace smx::ops {

// x [M, K], w [K, N] (either axis unit-stride), bias [N] -> [M, N]. x and w bf16 (the GEMM's
// dtype), x row-major; bias fp32 or bf16. Returns bf16, or undefined (see above).
at::Tensor fused_linear(const at::Tensor& x, const at::Tensor& w, const at::Tensor& bias);

// Whether this build has the fused path at all (oneDNN found at configure time).
bool fused_linear_built();

}  // namespace smx::ops
