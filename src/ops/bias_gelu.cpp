#include "smx/ops/bias_gelu.h"

#include <cmath>

#include <ATen/Parallel.h>
#include <ATen/record_function.h>
#include <torch/torch.h>

#include "simd.h"
#include "smx/ops/fused_kernels.h"

namespace smx::ops {
namespace {

constexpr float kC = 0.7978845608028654f;  // √(2/π)
constexpr float kA = 0.044715f;

// gelu_tanh(v) = v · σ(2u), u = kC·(v + kA·v³), since 0.5·(1 + tanh(u)) = σ(2u).
// d/dv = σ + v · 2σ(1-σ) · kC·(1 + 3kA·v²).
inline float sigma2u(float v) {
  const float u = kC * (v + kA * v * v * v);
  return 1.0f / (1.0f + std::exp(-2.0f * u));
}

template <simd::ExpAccuracy A>
SMX_AVX512 inline __m512 sigma2u(__m512 v) {
  const __m512 v2 = _mm512_mul_ps(v, v);
  const __m512 u = _mm512_mul_ps(_mm512_mul_ps(v, _mm512_set1_ps(-2.0f * kC)),
                                 _mm512_fmadd_ps(v2, _mm512_set1_ps(kA), _mm512_set1_ps(1.0f)));
  return _mm512_div_ps(_mm512_set1_ps(1.0f), _mm512_add_ps(_mm512_set1_ps(1.0f), simd::exp<A>(u)));
}

// Exact GELU through Φ(v) = erfc(-v/√2) / 2: gelu = v·Φ(v), d/dv = Φ(v) + v·φ(v), with
// φ(v) = e^(-v²/2) / √(2π).
constexpr float kGeluInvSqrt2 = 0.7071067811865476f;
constexpr float kGeluInvSqrt2Pi = 0.3989422804014327f;

// erfc(z) for z >= 0 with a relative error below 1.2e-7: t·exp(-z² + P(t)), t = 1/(1 + z/2),
// P of degree 9 (the Chebyshev fit of Numerical Recipes §6.2, "erfcc").
template <simd::ExpAccuracy A>
SMX_AVX512 inline __m512 gelu_erfc_nonnegative(__m512 z) {
  const __m512 t = _mm512_div_ps(_mm512_set1_ps(1.0f),
                                 _mm512_fmadd_ps(z, _mm512_set1_ps(0.5f), _mm512_set1_ps(1.0f)));
  static constexpr float kP[] = {0.17087277f, -0.82215223f, 1.48851587f, -1.13520398f,
                                 0.27886807f, -0.18628806f, 0.09678418f, 0.37409196f,
                                 1.00002368f, -1.26551223f};
  __m512 p = _mm512_set1_ps(kP[0]);
  for (int i = 1; i < 10; ++i) p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(kP[i]));
  return _mm512_mul_ps(t, simd::exp<A>(_mm512_fnmadd_ps(z, z, p)));  // t·e^(P - z²)
}

// Φ(v) for any v: erfc(|w|)/2 for w = -v/√2 >= 0, else 1 - erfc(|w|)/2.
template <simd::ExpAccuracy A>
SMX_AVX512 inline __m512 gelu_normal_cdf(__m512 v) {
  const __m512 w = _mm512_mul_ps(v, _mm512_set1_ps(-kGeluInvSqrt2));
  const __m512 half_e =
      _mm512_mul_ps(gelu_erfc_nonnegative<A>(_mm512_abs_ps(w)), _mm512_set1_ps(0.5f));
  const __mmask16 positive_v = _mm512_cmp_ps_mask(w, _mm512_setzero_ps(), _CMP_LT_OQ);
  return _mm512_mask_sub_ps(half_e, positive_v, _mm512_set1_ps(1.0f), half_e);
}

// gelu(v) and, when `d` is given, gelu'(v), for one kind: scalar and AVX-512 forms.
template <GeluKind K>
inline float gelu_scalar(float v, float* d) {
  if constexpr (K == GeluKind::kTanh) {
    const float s = sigma2u(v);
    if (d) *d = s + s * (1.0f - s) * v * 2.0f * kC * (1.0f + 3.0f * kA * v * v);
    return v * s;
  } else {
    const float cdf = 0.5f * std::erfc(-v * kGeluInvSqrt2);
    if (d) *d = cdf + v * kGeluInvSqrt2Pi * std::exp(-0.5f * v * v);
    return v * cdf;
  }
}

// A: exp's accuracy, from the dtype the result is stored in (simd::exp_accuracy_for).
template <GeluKind K, simd::ExpAccuracy A>
SMX_AVX512 inline __m512 gelu_avx512(__m512 v, __m512* d) {
  if constexpr (K == GeluKind::kTanh) {
    const __m512 s = sigma2u<A>(v);
    if (d) {
      const __m512 du2 = _mm512_fmadd_ps(_mm512_mul_ps(v, v), _mm512_set1_ps(6.0f * kC * kA),
                                         _mm512_set1_ps(2.0f * kC));  // 2·du/dv
      const __m512 ds = _mm512_mul_ps(_mm512_mul_ps(s, _mm512_sub_ps(_mm512_set1_ps(1.0f), s)),
                                      _mm512_mul_ps(v, du2));
      *d = _mm512_add_ps(s, ds);
    }
    return _mm512_mul_ps(v, s);
  } else {
    const __m512 cdf = gelu_normal_cdf<A>(v);
    if (d) {
      const __m512 pdf =
          _mm512_mul_ps(_mm512_set1_ps(kGeluInvSqrt2Pi),
                        simd::exp<A>(_mm512_mul_ps(_mm512_mul_ps(v, v), _mm512_set1_ps(-0.5f))));
      *d = _mm512_fmadd_ps(v, pdf, cdf);
    }
    return _mm512_mul_ps(v, cdf);
  }
}

// The shape bias_gelu works on: `groups` blocks of `rows` rows of F values, bias row g per block.
struct Layout {
  int64_t groups = 1, rows = 0, features = 0;
};

Layout layout_of(const at::Tensor& x, const at::Tensor& bias) {
  TORCH_CHECK(x.dim() >= 1, "bias_gelu: x must have at least one dimension");
  Layout l;
  l.features = x.size(-1);
  if (bias.dim() == 1) {
    TORCH_CHECK(bias.size(0) == l.features, "bias_gelu: bias [", bias.size(0),
                "] does not match x's last dimension ", l.features);
  } else {
    TORCH_CHECK(
        bias.dim() == 2 && x.dim() >= 2 && bias.size(0) == x.size(0) && bias.size(1) == l.features,
        "bias_gelu: a 2-D bias must be [G, F] for x [G, ..., F]; got bias ", bias.sizes(),
        " for x ", x.sizes());
    l.groups = bias.size(0);
  }
  l.rows = l.features == 0 ? 0 : x.numel() / (l.groups * l.features);
  return l;
}

template <GeluKind K, typename T, typename B>
void forward_rows_scalar(const T* x, const B* bias, T* y, int64_t rows, int64_t F) {
  for (int64_t r = 0; r < rows; ++r, x += F, y += F)
    for (int64_t f = 0; f < F; ++f) {
      const float v = static_cast<float>(x[f]) + static_cast<float>(bias[f]);
      y[f] = static_cast<T>(gelu_scalar<K>(v, nullptr));
    }
}

template <GeluKind K, typename T, typename B>
SMX_AVX512 void forward_rows_avx512(const T* x, const B* bias, T* y, int64_t rows, int64_t F) {
  for (int64_t r = 0; r < rows; ++r, x += F, y += F)
    for (int64_t f = 0; f < F; f += 16) {
      const __mmask16 m = simd::lanes(f, F);
      const __m512 v = _mm512_add_ps(simd::load(x + f, m), simd::load(bias + f, m));
      simd::store(y + f, gelu_avx512<K, simd::exp_accuracy_for<T>()>(v, nullptr), m);
    }
}

// grad_x = grad_y · gelu'(x + bias); gb[f] += grad_x[., f] (fp32, before rounding to T).
template <GeluKind K, typename T, typename B>
void backward_rows_scalar(const T* gy, const T* x, const B* bias, T* gx, float* gb, int64_t rows,
                          int64_t F) {
  for (int64_t r = 0; r < rows; ++r, x += F, gy += F, gx += F)
    for (int64_t f = 0; f < F; ++f) {
      const float v = static_cast<float>(x[f]) + static_cast<float>(bias[f]);
      float d = 0.0f;
      gelu_scalar<K>(v, &d);
      const float g = static_cast<float>(gy[f]) * d;
      gx[f] = static_cast<T>(g);
      gb[f] += g;
    }
}

template <GeluKind K, typename T, typename B>
SMX_AVX512 void backward_rows_avx512(const T* gy, const T* x, const B* bias, T* gx, float* gb,
                                     int64_t rows, int64_t F) {
  for (int64_t r = 0; r < rows; ++r, x += F, gy += F, gx += F)
    for (int64_t f = 0; f < F; f += 16) {
      const __mmask16 m = simd::lanes(f, F);
      const __m512 v = _mm512_add_ps(simd::load(x + f, m), simd::load(bias + f, m));
      __m512 d = _mm512_setzero_ps();
      gelu_avx512<K, simd::exp_accuracy_for<T>()>(v, &d);
      const __m512 g = _mm512_mul_ps(simd::load(gy + f, m), d);
      simd::store(gx + f, g, m);
      simd::store(gb + f, _mm512_add_ps(simd::load(gb + f, m), g), m);
    }
}

template <GeluKind K, typename T, typename B>
void forward_rows(const T* x, const B* bias, T* y, int64_t rows, int64_t F) {
  if (simd::cpu_has_avx512())
    forward_rows_avx512<K>(x, bias, y, rows, F);
  else
    forward_rows_scalar<K>(x, bias, y, rows, F);
}

template <GeluKind K, typename T, typename B>
void backward_rows(const T* gy, const T* x, const B* bias, T* gx, float* gb, int64_t rows,
                   int64_t F) {
  if (simd::cpu_has_avx512())
    backward_rows_avx512<K>(gy, x, bias, gx, gb, rows, F);
  else
    backward_rows_scalar<K>(gy, x, bias, gx, gb, rows, F);
}

constexpr int64_t kRowsPerTask = 16;

// body(x element, bias element) for the dtypes of x and bias.
template <typename F>
void dispatch_types(const at::Tensor& x, const at::Tensor& bias, F&& body) {
  simd::dispatch_float_types(x.scalar_type(), [&](auto x_tag) {
    simd::dispatch_float_types(bias.scalar_type(), [&](auto b_tag) { body(x_tag, b_tag); });
  });
}

template <GeluKind K>
at::Tensor forward_kernel(const at::Tensor& x, const at::Tensor& bias) {
  const Layout l = layout_of(x, bias);
  at::Tensor y = at::empty_like(x);
  dispatch_types(x, bias, [&](auto x_tag, auto b_tag) {
    using T = decltype(x_tag);
    using Bt = decltype(b_tag);
    const T* xp = x.data_ptr<T>();
    const Bt* bp = bias.data_ptr<Bt>();
    T* yp = y.data_ptr<T>();
    const int64_t F = l.features, R = l.rows;
    at::parallel_for(0, l.groups * R, kRowsPerTask, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end;) {  // rows [i, stop) of one group
        const int64_t g = i / R, stop = std::min(end, (g + 1) * R);
        forward_rows<K>(xp + i * F, bp + g * F, yp + i * F, stop - i, F);
        i = stop;
      }
    });
  });
  return y;
}

template <GeluKind K>
std::pair<at::Tensor, at::Tensor> backward_kernel(const at::Tensor& grad_y, const at::Tensor& x,
                                                  const at::Tensor& bias) {
  const Layout l = layout_of(x, bias);
  const int64_t F = l.features, R = l.rows;
  const simd::RowChunks chunks(R);  // per group: the bias gradient's partial rows
  at::Tensor gx = at::empty_like(x);
  at::Tensor partial = at::zeros({l.groups, chunks.count, F}, x.options().dtype(at::kFloat));
  dispatch_types(x, bias, [&](auto x_tag, auto b_tag) {
    using T = decltype(x_tag);
    using Bt = decltype(b_tag);
    const T* gyp = grad_y.data_ptr<T>();
    const T* xp = x.data_ptr<T>();
    const Bt* bp = bias.data_ptr<Bt>();
    T* gxp = gx.data_ptr<T>();
    float* pp = partial.data_ptr<float>();
    at::parallel_for(0, l.groups * chunks.count, 1, [&](int64_t begin, int64_t end) {
      for (int64_t task = begin; task < end; ++task) {
        const int64_t g = task / chunks.count, c = task % chunks.count;
        const int64_t row = g * R + chunks.first(c);
        backward_rows<K>(gyp + row * F, xp + row * F, bp + g * F, gxp + row * F, pp + task * F,
                         chunks.end(c) - chunks.first(c), F);
      }
    });
  });
  at::Tensor gb = partial.sum(1);  // [G, F] fp32
  if (bias.dim() == 1) gb = gb.squeeze(0);
  return {gx, gb.to(bias.scalar_type())};
}

bool fast_path(const at::Tensor& x, const at::Tensor& bias) {
  const auto ok = [](const at::Tensor& t) {
    return t.device().is_cpu() && t.layout() == at::kStrided &&
           (t.scalar_type() == at::kFloat || t.scalar_type() == at::kBFloat16);
  };
  return fused_kernels_enabled() && ok(x) && ok(bias) && x.numel() > 0;
}

template <GeluKind K>
class BiasGelu : public torch::autograd::Function<BiasGelu<K>> {
 public:
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x,
                            const at::Tensor& bias) {
    const at::Tensor xc = x.contiguous(), bc = bias.contiguous();
    ctx->save_for_backward({xc, bc});
    return forward_kernel<K>(xc, bc);
  }
  static torch::autograd::tensor_list backward(torch::autograd::AutogradContext* ctx,
                                               torch::autograd::tensor_list grads) {
    const auto saved = ctx->get_saved_variables();
    const at::Tensor gy = grads[0].to(saved[0].scalar_type()).contiguous();
    auto [gx, gb] = backward_kernel<K>(gy, saved[0], saved[1]);
    return {gx, gb};
  }
};

}  // namespace

at::Tensor bias_gelu_reference(const at::Tensor& x, const at::Tensor& bias, GeluKind kind) {
  at::Tensor b = bias;
  if (bias.dim() == 2) {  // [G, F] -> [G, 1, ..., 1, F]
    std::vector<int64_t> shape(x.dim(), 1);
    shape.front() = bias.size(0);
    shape.back() = bias.size(1);
    b = bias.view(shape);
  }
  const at::ScalarType math = at::promote_types(x.scalar_type(), at::kFloat);  // fp32 or fp64
  return at::gelu(x.to(math) + b.to(math), kind == GeluKind::kTanh ? "tanh" : "none")
      .to(x.scalar_type());
}

at::Tensor bias_gelu(const at::Tensor& x, const at::Tensor& bias, GeluKind kind) {
  if (!fast_path(x, bias)) return bias_gelu_reference(x, bias, kind);
  RECORD_FUNCTION("smx::bias_gelu", std::vector<c10::IValue>());  // named in --profile
  return kind == GeluKind::kTanh ? BiasGelu<GeluKind::kTanh>::apply(x, bias)
                                 : BiasGelu<GeluKind::kErf>::apply(x, bias);
}

}  // namespace smx::ops
