#include "thin_matmul.h"

#include <algorithm>

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include "simd.h"

namespace smx::ops {
namespace {

constexpr int64_t kRowsPerPass = 4;  // rows of w read per pass over the accumulators
// Columns per block: accumulators [M, 1024] fp32, at most 16 KB. In a trial build 512-2048
// measured alike and 256 slower (shorter runs along each row of w; smx_bench CpuMatmul case 15).
constexpr int64_t kBlock = 1024;
constexpr int64_t kMinSpan = 512;  // columns of w a task reads at the least

// One operand's layout: rows [G, R, C] (C the unit-stride axis), g_stride 0 when broadcast.
struct Layout {
  int64_t g_stride = 0, row_stride = 0;
};

Layout layout_of(const at::Tensor& t, int64_t G) {
  Layout l;
  l.row_stride = t.stride(-2);
  l.g_stride = t.dim() == 3 && t.size(0) == G && G > 1 ? t.stride(0) : 0;
  return l;
}

// Columns [n0, n1) of the M rows of one entry: acc [M, n1 - n0] gets x [M, K] · w [K, n0:n1],
// kRowsPerPass rows of w at a time, each read once along its contiguous columns (runs the
// prefetchers follow); then y = acc (+ bias).
SMX_AVX512 void thin_block_avx512(const float* x, int64_t ldx, int64_t M, int64_t K, const float* w,
                                  int64_t ldw, int64_t n0, int64_t n1, const float* bias, float* y,
                                  int64_t ldy) {
  const int64_t width = n1 - n0;
  alignas(64) float acc[kThinMaxRows * kBlock];
  std::fill(acc, acc + M * width, 0.0f);
  for (int64_t k = 0; k < K; k += kRowsPerPass) {
    const int64_t rows = std::min(kRowsPerPass, K - k);
    float xs[kThinMaxRows][kRowsPerPass] = {};  // x [m, k..k+3], 0 past K
    for (int64_t m = 0; m < M; ++m)
      for (int64_t i = 0; i < rows; ++i) xs[m][i] = x[m * ldx + k + i];
    const float* w0 = w + k * ldw + n0;
    for (int64_t j = 0; j < width; j += 16) {
      const __mmask16 mask = simd::lanes(j, width);
      __m512 v[kRowsPerPass];
      for (int64_t i = 0; i < kRowsPerPass; ++i)
        v[i] = i < rows ? _mm512_maskz_loadu_ps(mask, w0 + i * ldw + j) : _mm512_setzero_ps();
      for (int64_t m = 0; m < M; ++m) {
        float* a = acc + m * width + j;
        __m512 s = _mm512_maskz_loadu_ps(mask, a);
        for (int64_t i = 0; i < kRowsPerPass; ++i)
          s = _mm512_fmadd_ps(_mm512_set1_ps(xs[m][i]), v[i], s);
        _mm512_mask_storeu_ps(a, mask, s);
      }
    }
  }
  for (int64_t m = 0; m < M; ++m)
    for (int64_t j = 0; j < width; j += 16) {
      const __mmask16 mask = simd::lanes(j, width);
      __m512 s = _mm512_maskz_loadu_ps(mask, acc + m * width + j);
      if (bias) s = _mm512_add_ps(s, _mm512_maskz_loadu_ps(mask, bias + n0 + j));
      _mm512_mask_storeu_ps(y + m * ldy + n0 + j, mask, s);
    }
}

}  // namespace

bool thin_matmul_applies(const at::Tensor& x, const at::Tensor& w) {
  if (x.scalar_type() != at::kFloat || x.dim() > 3) return false;
  if (x.size(-2) > kThinMaxRows || x.stride(-1) != 1 || w.stride(-1) != 1) return false;
  // Every thread needs runs of kMinSpan columns of its own: shorter runs along w's rows lose to
  // oneDNN (bench/cpu_matmul_bench.cpp case 18, [4, 2048] x [2048, 512]).
  const int64_t G = x.dim() == 3 ? std::max(x.size(0), w.size(0)) : 1;
  return G * (w.size(-1) / kMinSpan) >= at::get_num_threads();
}

void thin_matmul(const at::Tensor& x, const at::Tensor& w, const at::Tensor& bias,
                 const at::Tensor& y) {
  TORCH_CHECK(!bias.defined() || bias.scalar_type() == at::kFloat,
              "thin_matmul: an fp32 product takes an fp32 bias; got ", bias.scalar_type());
  const int64_t M = x.size(-2), K = x.size(-1), N = w.size(-1);
  const int64_t G = y.dim() == 3 ? y.size(0) : 1;
  const Layout lx = layout_of(x, G), lw = layout_of(w, G);
  const bool bias_rows = bias.defined() && bias.dim() == 2;
  // Whole entries per task when there are enough for every thread; else each entry's columns
  // split in spans of at least kMinSpan (a multiple of 16) so that every thread streams its share.
  const int64_t threads = at::get_num_threads();
  const int64_t parts = std::max<int64_t>(1, std::min((threads + G - 1) / G, N / kMinSpan));
  const int64_t span = ((N + parts - 1) / parts + 15) / 16 * 16;
  const float* xp = x.data_ptr<float>();
  const float* wp = w.data_ptr<float>();
  const float* bp = bias.defined() ? bias.data_ptr<float>() : nullptr;
  float* yp = y.data_ptr<float>();
  at::parallel_for(0, G * parts, 1, [&](int64_t begin, int64_t end) {
    for (int64_t task = begin; task < end; ++task) {
      const int64_t g = task / parts, n0 = task % parts * span, n1 = std::min(N, n0 + span);
      for (int64_t n = n0; n < n1; n += kBlock)
        thin_block_avx512(xp + g * lx.g_stride, lx.row_stride, M, K, wp + g * lw.g_stride,
                          lw.row_stride, n, std::min(n1, n + kBlock),
                          bp ? bp + (bias_rows ? g * N : 0) : nullptr, yp + g * M * N, N);
    }
  });
}

}  // namespace smx::ops
