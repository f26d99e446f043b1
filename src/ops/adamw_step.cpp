#include "smx/ops/adamw_step.h"

#include <cmath>

#include <ATen/Parallel.h>
#include <ATen/record_function.h>
#include <torch/torch.h>

#include "simd.h"
#include "smx/ops/fused_kernels.h"

namespace smx::ops {
namespace {

struct Coef {
  float b1, one_minus_b1, b2, one_minus_b2, eps, decay, step, inv_c2;
};

void update_scalar(float* p, const float* g, float* m, float* v, int64_t n, const Coef& k) {
  for (int64_t i = 0; i < n; ++i) {
    m[i] = k.b1 * m[i] + k.one_minus_b1 * g[i];
    v[i] = k.b2 * v[i] + k.one_minus_b2 * g[i] * g[i];
    p[i] = p[i] * k.decay - k.step * m[i] / (std::sqrt(v[i] * k.inv_c2) + k.eps);
  }
}

SMX_AVX512 void update_avx512(float* p, const float* g, float* m, float* v, int64_t n,
                              const Coef& k) {
  const __m512 b1 = _mm512_set1_ps(k.b1), a1 = _mm512_set1_ps(k.one_minus_b1);
  const __m512 b2 = _mm512_set1_ps(k.b2), a2 = _mm512_set1_ps(k.one_minus_b2);
  const __m512 eps = _mm512_set1_ps(k.eps), decay = _mm512_set1_ps(k.decay);
  const __m512 step = _mm512_set1_ps(k.step), inv_c2 = _mm512_set1_ps(k.inv_c2);
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 mask = simd::lanes(i, n);
    const __m512 gi = simd::load(g + i, mask);
    const __m512 mi = _mm512_fmadd_ps(b1, simd::load(m + i, mask), _mm512_mul_ps(a1, gi));
    const __m512 vi =
        _mm512_fmadd_ps(b2, simd::load(v + i, mask), _mm512_mul_ps(a2, _mm512_mul_ps(gi, gi)));
    const __m512 denom = _mm512_add_ps(_mm512_sqrt_ps(_mm512_mul_ps(vi, inv_c2)), eps);
    const __m512 pi = _mm512_fnmadd_ps(step, _mm512_div_ps(mi, denom),
                                       _mm512_mul_ps(simd::load(p + i, mask), decay));
    simd::store(m + i, mi, mask);
    simd::store(v + i, vi, mask);
    simd::store(p + i, pi, mask);
  }
}

bool fast_path(const at::Tensor& p, const at::Tensor& g, const at::Tensor& m, const at::Tensor& v) {
  if (!fused_kernels_enabled()) return false;
  for (const at::Tensor* t : {&p, &g, &m, &v})
    if (!t->device().is_cpu() || t->scalar_type() != at::kFloat || !t->is_contiguous() ||
        t->sizes() != p.sizes())
      return false;
  return true;
}

}  // namespace

void adamw_step(at::Tensor& p, const at::Tensor& g, at::Tensor& m, at::Tensor& v,
                const AdamWCoefficients& c) {
  if (!fast_path(p, g, m, v)) {
    m.mul_(c.beta1).add_(g, 1.0 - c.beta1);
    v.mul_(c.beta2).addcmul_(g, g, 1.0 - c.beta2);
    const at::Tensor denom = (v / c.correction2).sqrt_().add_(c.eps);
    p.mul_(1.0 - c.lr * c.weight_decay);
    p.addcdiv_(m, denom, -c.lr / c.correction1);
    return;
  }
  RECORD_FUNCTION("smx::adamw_step", std::vector<c10::IValue>());
  const Coef k{static_cast<float>(c.beta1),
               static_cast<float>(1.0 - c.beta1),
               static_cast<float>(c.beta2),
               static_cast<float>(1.0 - c.beta2),
               static_cast<float>(c.eps),
               static_cast<float>(1.0 - c.lr * c.weight_decay),
               static_cast<float>(c.lr / c.correction1),
               static_cast<float>(1.0 / c.correction2)};
  float* pp = p.data_ptr<float>();
  float* mp = m.data_ptr<float>();
  float* vp = v.data_ptr<float>();
  const float* gp = g.data_ptr<float>();
  at::parallel_for(0, p.numel(), 1 << 15, [&](int64_t begin, int64_t end) {
    if (simd::cpu_has_avx512())
      update_avx512(pp + begin, gp + begin, mp + begin, vp + begin, end - begin, k);
    else
      update_scalar(pp + begin, gp + begin, mp + begin, vp + begin, end - begin, k);
  });
  // Written through raw pointers: tell autograd the tensors changed, as in-place ops do.
  for (at::Tensor* t : {&p, &m, &v}) t->unsafeGetTensorImpl()->bump_version();
}

}  // namespace smx::ops
