// A GEMM whose bias is added by the GEMM itself as it stores each output tile (oneDNN's matmul
// with a bias), for CPU inference: y = x · w + bias, in bf16 or fp32.
//
// ATen's addmm first fills its output with the bias and then accumulates the product onto it: one
// more pass over the [M, N] output (bench/fused_linear_bench.cpp: 3-13% of a Base model's bf16
// products). Here the fp32 accumulator gets the bias before its one rounding to bf16. In fp32 the
// gain is the router's narrow product ([T, D] x [D, E], E = 16), which oneDNN runs ~3x faster than
// the BLAS behind ATen's fp32 addmm.
//
// Measured and not used: a GELU post-op for the MLPs' first products (oneDNN 2.6 evaluates it in
// the epilogue more slowly than the GEMM followed by ops::bias_gelu), and the per-expert form for
// the experts' output products (a [E, 1, N] bias: no faster than baddbmm).
//
// Inference only: nothing is saved for backward. fused_linear() returns an undefined tensor when
// the fused path does not apply, and the caller runs its unfused op instead: a build without
// oneDNN (SMX_HAVE_ONEDNN), a non-CPU tensor, gradients wanted, dtypes other than below, the fused
// kernels switched off (ops/fused_kernels.h), empty operands, or a CPU where oneDNN has no fast
// kernel.
#pragma once

#include <ATen/core/Tensor.h>

namespace smx::ops {

// x [M, K], w [K, N] (either axis unit-stride), bias [N] -> [M, N]; x row-major. x and w bf16
// with an fp32 or bf16 bias, returning bf16; or all three fp32, returning fp32. Undefined where
// the fused path does not apply (see above).
at::Tensor fused_linear(const at::Tensor& x, const at::Tensor& w, const at::Tensor& bias);

// Whether this build has the fused path at all (oneDNN found at configure time).
bool fused_linear_built();

}  // namespace smx::ops
