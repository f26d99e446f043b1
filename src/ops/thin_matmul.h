// fp32 products with few rows, for CPU inference: y = x · w (+ bias) where x has at most
// kThinMaxRows rows per batch entry: the experts' products when each expert holds a few slots
// (short inputs at batch 1), and the dense layers of inputs of a few tokens. Their time is reading
// w once. This kernel reads w along its rows, 4 rows at a time, into fp32 accumulators that stay in
// cache; oneDNN 2.6's fp32 matmul took 1.2-1.5x its time there (bench/cpu_matmul_bench.cpp cases
// 15-19). bf16 products stay with oneDNN: two kernels of this kind (converting w to fp32, and
// AVX512-BF16 pair products) measured no faster than it (bench/README.md, speed log).
#pragma once

#include <ATen/core/Tensor.h>

namespace smx::ops {

constexpr int64_t kThinMaxRows = 4;  // at 8 rows oneDNN was as fast (bench case 19)

// Whether thin_matmul takes x · w: both fp32, x [G, M, K] or [M, K] with M <= kThinMaxRows,
// w [G, K, N] or [K, N], unit stride on each operand's last axis, batch axes equal or 1 in one
// of them, and at least 512 columns (G·N) per thread. cpu_matmul has checked the rest (devices,
// bias form, grad mode).
bool thin_matmul_applies(const at::Tensor& x, const at::Tensor& w);

// Writes x · w (+ bias) into y (contiguous fp32, the result's shape). bias: fp32 [N], or [G, N]
// (a row per batch entry).
void thin_matmul(const at::Tensor& x, const at::Tensor& w, const at::Tensor& bias,
                 const at::Tensor& y);

}  // namespace smx::ops
