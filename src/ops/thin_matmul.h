// fp32 products with few rows, for CPU inference: y = x · w (+ bias) where x has at most
// kThinMaxRows rows per batch entry: the experts' products when each expert holds a few slots
// (short inputs at batch 1), and the dense layers of inputs of a few tokens. Their time is reading
// w once. This kernel reads w along its rows, 4 rows at a time, into fp32 accumulators that stay in
// cache; oneDNN 2.6's fp32 matmul took 1.4-2.1x its time there (bench/cpu_matmul_bench.cpp cases
// 15-17). bf16 products stay with oneDNN: kernels of this kind for bf16 (converting w to fp32, and
// AVX512-BF16 pair products) measured no faster than it (bench/README.md, speed log).
#pragma once

#include <ATen/core/Tensor.h>

namespace smx::ops {

constexpr int64_t kThinMaxRows = 4;  // at 8 rows oneDNN was as fast (bench case 19)

// Whether thin_matmul takes x · w: fp32, rank 2 or 3, M <= kThinMaxRows, unit stride on each
// operand's last axis, and at least 512 columns (G·N) per thread. cpu_matmul has checked the rest
// (equal dtypes and ranks, batch axes equal or 1 in one of them, devices, bias form, grad mode).
bool thin_matmul_applies(const at::Tensor& x, const at::Tensor& w);

// Writes x · w (+ bias) into y (contiguous fp32, the result's shape). bias: fp32 [N], or [G, N]
// (a row per batch entry).
void thin_matmul(const at::Tensor& x, const at::Tensor& w, const at::Tensor& bias,
                 const at::Tensor& y);

}  // namespace smx::ops
