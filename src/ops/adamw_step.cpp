#include "smx/ops/adamw_step.h"

#include <cmath>
#include <cstddef>
#include <type_traits>

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

// G: the gradient's element type (fp32, or bf16 from a weight's bf16 copy). C: the copy's element
// type, written from the new p in the same pass; std::nullptr_t when there is no copy.
template <typename G, typename C>
void update_scalar(float* p, const G* g, float* m, float* v, C* copy, int64_t n, const Coef& k) {
  for (int64_t i = 0; i < n; ++i) {
    const auto gi = static_cast<float>(g[i]);
    m[i] = k.b1 * m[i] + k.one_minus_b1 * gi;
    v[i] = k.b2 * v[i] + k.one_minus_b2 * gi * gi;
    p[i] = p[i] * k.decay - k.step * m[i] / (std::sqrt(v[i] * k.inv_c2) + k.eps);
    if constexpr (!std::is_same_v<C, std::nullptr_t>) copy[i] = static_cast<C>(p[i]);
  }
}

template <typename G, typename C>
SMX_AVX512 void update_avx512(float* p, const G* g, float* m, float* v, C* copy, int64_t n,
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
    if constexpr (!std::is_same_v<C, std::nullptr_t>) simd::store(copy + i, pi, mask);
  }
}

bool fast_path(const at::Tensor& p, const at::Tensor& g, const at::Tensor& m, const at::Tensor& v,
               const at::Tensor& copy) {
  if (!fused_kernels_enabled()) return false;
  for (const at::Tensor* t : {&p, &m, &v})
    if (!t->device().is_cpu() || t->scalar_type() != at::kFloat || !t->is_contiguous() ||
        t->sizes() != p.sizes())
      return false;
  const auto lower_ok = [&](const at::Tensor& t) {
    return t.device().is_cpu() && t.is_contiguous() && t.sizes() == p.sizes() &&
           (t.scalar_type() == at::kFloat || t.scalar_type() == at::kBFloat16);
  };
  return lower_ok(g) &&
         (!copy.defined() || (lower_ok(copy) && copy.scalar_type() == at::kBFloat16));
}

template <typename G, typename C>
void update_all(float* p, const G* g, float* m, float* v, C* copy, int64_t n, const Coef& k) {
  at::parallel_for(0, n, 1 << 15, [&](int64_t begin, int64_t end) {
    C* c = nullptr;
    if constexpr (!std::is_same_v<C, std::nullptr_t>) c = copy + begin;
    if (simd::cpu_has_avx512())
      update_avx512(p + begin, g + begin, m + begin, v + begin, c, end - begin, k);
    else
      update_scalar(p + begin, g + begin, m + begin, v + begin, c, end - begin, k);
  });
}

template <typename G>
void update_with_copy(float* p, const G* g, float* m, float* v, at::Tensor& copy, int64_t n,
                      const Coef& k) {
  if (copy.defined())
    update_all(p, g, m, v, copy.data_ptr<c10::BFloat16>(), n, k);
  else
    update_all<G, std::nullptr_t>(p, g, m, v, nullptr, n, k);
}

}  // namespace

void adamw_step(at::Tensor& p, const at::Tensor& g, at::Tensor& m, at::Tensor& v,
                const AdamWCoefficients& c) {
  at::Tensor no_copy;
  adamw_step(p, g, m, v, c, no_copy);
}

void adamw_step(at::Tensor& p, const at::Tensor& g, at::Tensor& m, at::Tensor& v,
                const AdamWCoefficients& c, at::Tensor& copy) {
  if (!fast_path(p, g, m, v, copy)) {
    const at::Tensor gm = g.scalar_type() == m.scalar_type() ? g : g.to(m.scalar_type());
    m.mul_(c.beta1).add_(gm, 1.0 - c.beta1);
    v.mul_(c.beta2).addcmul_(gm, gm, 1.0 - c.beta2);
    const at::Tensor denom = (v / c.correction2).sqrt_().add_(c.eps);
    p.mul_(1.0 - c.lr * c.weight_decay);
    p.addcdiv_(m, denom, -c.lr / c.correction1);
    if (copy.defined()) copy.copy_(p);
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
  if (g.scalar_type() == at::kFloat)
    update_with_copy(pp, g.data_ptr<float>(), mp, vp, copy, p.numel(), k);
  else
    update_with_copy(pp, g.data_ptr<c10::BFloat16>(), mp, vp, copy, p.numel(), k);
  // Written through raw pointers: tell autograd the tensors changed, as in-place ops do.
  for (at::Tensor* t : {&p, &m, &v, &copy})
    if (t->defined()) t->unsafeGetTensorImpl()->bump_version();
}

}  // namespace smx::ops
