#include "smx/ops/softmax.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include <ATen/Parallel.h>
#include <ATen/record_function.h>
#include <torch/torch.h>

#include "simd.h"
#include "smx/ops/fused_kernels.h"

namespace smx::ops {
namespace {

template <typename T>
void forward_row_scalar(const T* x, T* y, int64_t K) {
  float max = -std::numeric_limits<float>::infinity();
  for (int64_t k = 0; k < K; ++k) max = std::max(max, static_cast<float>(x[k]));
  double sum = 0;  // a long row in one fp32 accumulator would lose ~1e-6
  for (int64_t k = 0; k < K; ++k) sum += std::exp(static_cast<float>(x[k]) - max);
  const auto inv = static_cast<float>(1.0 / sum);
  for (int64_t k = 0; k < K; ++k)
    y[k] = static_cast<T>(std::exp(static_cast<float>(x[k]) - max) * inv);
}

template <typename T>
SMX_AVX512 void forward_row_avx512(const T* x, T* y, float* scratch, int64_t K) {
  __m512 vmax = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
  for (int64_t k = 0; k < K; k += 16) {
    const __mmask16 m = simd::lanes(k, K);
    vmax = _mm512_mask_max_ps(vmax, m, vmax, simd::load(x + k, m));
  }
  const __m512 max = _mm512_set1_ps(_mm512_reduce_max_ps(vmax));
  __m512 vsum = _mm512_setzero_ps();
  for (int64_t k = 0; k < K; k += 16) {  // e^(x - max) kept in fp32 for the scaling pass
    const __mmask16 m = simd::lanes(k, K);
    const __m512 e = _mm512_maskz_mov_ps(m, simd::exp(_mm512_sub_ps(simd::load(x + k, m), max)));
    simd::store(scratch + k, e, m);
    vsum = _mm512_add_ps(vsum, e);
  }
  const __m512 inv = _mm512_set1_ps(1.0f / _mm512_reduce_add_ps(vsum));
  for (int64_t k = 0; k < K; k += 16) {
    const __mmask16 m = simd::lanes(k, K);
    simd::store(y + k, _mm512_mul_ps(simd::load(scratch + k, m), inv), m);
  }
}

// grad_x = p · (g - Σ g·p)
template <typename T>
void backward_row_scalar(const T* g, const T* p, T* gx, int64_t K) {
  double dot = 0;
  for (int64_t k = 0; k < K; ++k) dot += static_cast<float>(g[k]) * static_cast<float>(p[k]);
  for (int64_t k = 0; k < K; ++k)
    gx[k] = static_cast<T>(static_cast<float>(p[k]) *
                           (static_cast<float>(g[k]) - static_cast<float>(dot)));
}

template <typename T>
SMX_AVX512 void backward_row_avx512(const T* g, const T* p, T* gx, int64_t K) {
  __m512 vdot = _mm512_setzero_ps();
  for (int64_t k = 0; k < K; k += 16) {
    const __mmask16 m = simd::lanes(k, K);
    vdot = _mm512_fmadd_ps(simd::load(g + k, m), simd::load(p + k, m), vdot);
  }
  const __m512 dot = _mm512_set1_ps(_mm512_reduce_add_ps(vdot));
  for (int64_t k = 0; k < K; k += 16) {
    const __mmask16 m = simd::lanes(k, K);
    simd::store(gx + k,
                _mm512_mul_ps(simd::load(p + k, m), _mm512_sub_ps(simd::load(g + k, m), dot)), m);
  }
}

at::Tensor forward_kernel(const at::Tensor& x) {
  const int64_t K = x.size(-1), rows = x.numel() / K;
  at::Tensor y = at::empty_like(x);
  simd::dispatch_float_types(x.scalar_type(), [&](auto tag) {
    using T = decltype(tag);
    const T* xp = x.data_ptr<T>();
    T* yp = y.data_ptr<T>();
    at::parallel_for(0, rows, 16, [&](int64_t begin, int64_t end) {
      thread_local std::vector<float> scratch;  // one row of e^(x - max), reused across calls
      if (scratch.size() < static_cast<size_t>(K)) scratch.resize(static_cast<size_t>(K));
      for (int64_t r = begin; r < end; ++r) {
        if (simd::cpu_has_avx512())
          forward_row_avx512(xp + r * K, yp + r * K, scratch.data(), K);
        else
          forward_row_scalar(xp + r * K, yp + r * K, K);
      }
    });
  });
  return y;
}

at::Tensor backward_kernel(const at::Tensor& g, const at::Tensor& p) {
  const int64_t K = p.size(-1), rows = p.numel() / K;
  at::Tensor gx = at::empty_like(p);
  simd::dispatch_float_types(p.scalar_type(), [&](auto tag) {
    using T = decltype(tag);
    const T* gp = g.data_ptr<T>();
    const T* pp = p.data_ptr<T>();
    T* gxp = gx.data_ptr<T>();
    at::parallel_for(0, rows, 16, [&](int64_t begin, int64_t end) {
      for (int64_t r = begin; r < end; ++r) {
        if (simd::cpu_has_avx512())
          backward_row_avx512(gp + r * K, pp + r * K, gxp + r * K, K);
        else
          backward_row_scalar(gp + r * K, pp + r * K, gxp + r * K, K);
      }
    });
  });
  return gx;
}

class Softmax : public torch::autograd::Function<Softmax> {
 public:
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x) {
    at::Tensor p = forward_kernel(x.contiguous());
    ctx->save_for_backward({p});
    return p;
  }
  static torch::autograd::tensor_list backward(torch::autograd::AutogradContext* ctx,
                                               torch::autograd::tensor_list grads) {
    const at::Tensor p = ctx->get_saved_variables()[0];
    return {backward_kernel(grads[0].to(p.scalar_type()).contiguous(), p)};
  }
};

}  // namespace

at::Tensor softmax_last_dim(const at::Tensor& x) {
  const bool fast = fused_kernels_enabled() && x.device().is_cpu() && x.layout() == at::kStrided &&
                    x.dim() >= 1 && x.numel() > 0 &&
                    (x.scalar_type() == at::kFloat || x.scalar_type() == at::kBFloat16);
  if (!fast)
    return at::softmax(x.to(at::promote_types(x.scalar_type(), at::kFloat)), -1)
        .to(x.scalar_type());
  RECORD_FUNCTION("smx::softmax_last_dim", std::vector<c10::IValue>());
  return Softmax::apply(x);
}

}  // namespace smx::ops
