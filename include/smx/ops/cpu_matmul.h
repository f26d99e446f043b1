// Matrix products for CPU inference through oneDNN's matmul, called directly: y = x · w (+ bias),
// plain or batched, in bf16 or fp32.
//
// What it buys over ATen's products (bench/cpu_matmul_bench.cpp):
// - The bias is added in the GEMM's epilogue. ATen's addmm first fills its output with the bias
//   and accumulates onto it, one more pass over [M, N] (3-13% of a Base model's bf16 products).
// - fp32 products run in oneDNN's AVX-512 kernels instead of the BLAS behind ATen's fp32 mm / bmm:
//   ~2x for attention's [B·H, N, 64] products, ~3x for the router's [T, D] x [D, 16], ~1.2x for
//   the experts' products.
// - A batch axis of size 1 broadcasts without a copy (Linear mixing's one W_s for every example).
//
// Inference only: nothing is saved for backward. cpu_matmul() returns an undefined tensor when it
// does not apply, and the caller runs its ATen op instead: a build without oneDNN
// (SMX_HAVE_ONEDNN), non-CPU tensors, gradients wanted, dtypes other than below, a product that
// bf16 autocast would run in another dtype, the fused kernels switched off (ops/fused_kernels.h),
// empty operands, or a CPU where oneDNN offers only its reference kernel.
#pragma once

#include <ATen/core/Tensor.h>

namespace smx::ops {

// x [..., M, K] · w [..., K, N] (+ bias) -> [..., M, N]. x and w have the same rank, 2 to 4;
// each leading (batch) axis is equal in both or 1 in one of them (broadcast). In each operand one
// of the last two axes has unit stride (a transposed view is fine). The bias is [N], or in fp32
// [G, N] for rank-3 products over G batch entries (a row each: the experts' biases). x and w bf16
// with an fp32 or bf16 bias, returning bf16; or everything fp32 with N <= 2048 (oneDNN 2.6's fp32
// kernel can be far slower than the BLAS on wider products), returning fp32. The result is
// contiguous: a new tensor, or `out` when given (contiguous, of the result's shape and dtype; a
// row range of a larger result is fine), returned as is.
at::Tensor cpu_matmul(const at::Tensor& x, const at::Tensor& w, const at::Tensor& bias = {},
                      const at::Tensor& out = {});

// Whether this build has the oneDNN path at all (found at configure time).
bool cpu_matmul_built();

// fp32 products of at most 4 rows per batch entry with unit-stride rows in x and w (batch-1
// serving's layers, the experts' few slots each) run in smx's own kernel (src/ops/thin_matmul.h),
// 1.4-2.1x faster than oneDNN's there (bench/cpu_matmul_bench.cpp cases 15-17). On by default; off
// sends them to oneDNN (tests and benchmarks compare the two).
void set_thin_products(bool enabled);

}  // namespace smx::ops
