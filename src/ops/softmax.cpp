#include "smx/ops/softmax.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include <ATen/Parallel.h>
#include <ATen/record_function.h>
#include <torch/torch.h>

#include "dropout_mask.h"
#include "simd.h"
#include "smx/ops/fused_kernels.h"

namespace smx::ops {
namespace {

using dropout_mask::Draw;

// A dropout mask over one [R, K] tensor as 16-bit words, row r's word w holding the keep decisions
// of its elements 16w .. 16w + 15 (bit i: element 16w + i); W = ceil(K / 16) words per row. Drawn
// once per call and reused by every leading index, so the hash runs R·K times, not B·H·R·K.
struct KeepBits {
  const uint16_t* words = nullptr;  // [R, W]; null: no dropout
  int64_t words_per_row = 0;
  float scale = 1;  // 1 / (1 - rate)
  const uint16_t* row(int64_t r, int64_t R) const {
    return words ? words + (r % R) * words_per_row : nullptr;
  }
};

// W words of keep decisions from mask element `index` on: the same bits on both paths.
void keep_words_scalar(const Draw& dr, int64_t index, int64_t W, uint16_t* words) {
  for (int64_t i = 0; i < W; ++i) {
    uint16_t word = 0;
    for (int64_t b = 0; b < 16; ++b)
      if (dropout_mask::keeps(dr, index + 16 * i + b)) word |= static_cast<uint16_t>(1u << b);
    words[i] = word;
  }
}

SMX_AVX512 void keep_words_avx512(const Draw& dr, int64_t index, int64_t W, uint16_t* words) {
  for (int64_t i = 0; i < W; ++i) words[i] = dropout_mask::keeps16(dr, index + 16 * i);
}

// The words of `dr` over [R, K], into a buffer of the calling thread (kept across calls).
KeepBits draw_keep_bits(const Draw& dr, int64_t R, int64_t K) {
  KeepBits bits;
  if (!dr.active) return bits;
  bits.words_per_row = (K + 15) / 16;
  bits.scale = dr.scale;
  thread_local std::vector<uint16_t> buffer;
  buffer.resize(static_cast<size_t>(R * bits.words_per_row));
  uint16_t* w = buffer.data();
  const int64_t W = bits.words_per_row;
  at::parallel_for(0, R, 16, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r)
      if (simd::cpu_has_avx512())
        keep_words_avx512(dr, r * K, W, w + r * W);
      else
        keep_words_scalar(dr, r * K, W, w + r * W);
  });
  bits.words = w;
  return bits;
}

inline bool kept(const uint16_t* keep, int64_t k) {
  return (keep[k / 16] >> (k % 16)) & 1u;
}

// One row: y = softmax(x); with `keep` (the row's mask words) also out = y · keep · scale.
template <typename T>
void forward_row_scalar(const T* x, T* y, T* out, const uint16_t* keep, float scale, int64_t K) {
  float max = -std::numeric_limits<float>::infinity();
  for (int64_t k = 0; k < K; ++k) max = std::max(max, static_cast<float>(x[k]));
  double sum = 0;  // a long row in one fp32 accumulator would lose ~1e-6
  for (int64_t k = 0; k < K; ++k) sum += std::exp(static_cast<float>(x[k]) - max);
  const auto inv = static_cast<float>(1.0 / sum);
  for (int64_t k = 0; k < K; ++k) {
    const float p = std::exp(static_cast<float>(x[k]) - max) * inv;
    y[k] = static_cast<T>(p);
    if (keep) out[k] = static_cast<T>(kept(keep, k) ? p * scale : 0.0f);
  }
}

template <typename T>
SMX_AVX512 void forward_row_avx512(const T* x, T* y, T* out, const uint16_t* keep, float scale,
                                   float* scratch, int64_t K) {
  __m512 vmax = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
  for (int64_t k = 0; k < K; k += 16) {
    const __mmask16 m = simd::lanes(k, K);
    vmax = _mm512_mask_max_ps(vmax, m, vmax, simd::load(x + k, m));
  }
  const __m512 max = _mm512_set1_ps(_mm512_reduce_max_ps(vmax));
  __m512 vsum = _mm512_setzero_ps();
  for (int64_t k = 0; k < K; k += 16) {  // e^(x - max) kept in fp32 for the scaling pass
    const __mmask16 m = simd::lanes(k, K);
    const __m512 e = _mm512_maskz_mov_ps(
        m, simd::exp<simd::exp_accuracy_for<T>()>(_mm512_sub_ps(simd::load(x + k, m), max)));
    simd::store(scratch + k, e, m);
    vsum = _mm512_add_ps(vsum, e);
  }
  const __m512 inv = _mm512_set1_ps(1.0f / _mm512_reduce_add_ps(vsum));
  for (int64_t k = 0; k < K; k += 16) {
    const __mmask16 m = simd::lanes(k, K);
    const __m512 p = _mm512_mul_ps(simd::load(scratch + k, m), inv);
    simd::store(y + k, p, m);
    if (keep) simd::store(out + k, _mm512_maskz_mul_ps(keep[k / 16], p, _mm512_set1_ps(scale)), m);
  }
}

// grad_x = p · (g' - Σ g'·p), g' = g · keep · scale with `keep`, else g.
template <typename T>
void backward_row_scalar(const T* g, const T* p, T* gx, const uint16_t* keep, float scale,
                         int64_t K) {
  const auto gk = [&](int64_t k) {
    return keep && !kept(keep, k) ? 0.0f : static_cast<float>(g[k]) * (keep ? scale : 1.0f);
  };
  double dot = 0;
  for (int64_t k = 0; k < K; ++k) dot += gk(k) * static_cast<float>(p[k]);
  for (int64_t k = 0; k < K; ++k)
    gx[k] = static_cast<T>(static_cast<float>(p[k]) * (gk(k) - static_cast<float>(dot)));
}

// g[k .. k + 15] (lanes m) after the dropout of `keep`, if any.
template <typename T>
SMX_AVX512 inline __m512 load_dropped(const T* g, int64_t k, __mmask16 m, const uint16_t* keep,
                                      float scale) {
  const __m512 v = simd::load(g + k, m);
  return keep ? _mm512_maskz_mul_ps(keep[k / 16], v, _mm512_set1_ps(scale)) : v;
}

template <typename T>
SMX_AVX512 void backward_row_avx512(const T* g, const T* p, T* gx, const uint16_t* keep,
                                    float scale, int64_t K) {
  __m512 vdot = _mm512_setzero_ps();
  for (int64_t k = 0; k < K; k += 16) {
    const __mmask16 m = simd::lanes(k, K);
    vdot = _mm512_fmadd_ps(load_dropped(g, k, m, keep, scale), simd::load(p + k, m), vdot);
  }
  const __m512 dot = _mm512_set1_ps(_mm512_reduce_add_ps(vdot));
  for (int64_t k = 0; k < K; k += 16) {
    const __mmask16 m = simd::lanes(k, K);
    const __m512 gk = load_dropped(g, k, m, keep, scale);
    simd::store(gx + k, _mm512_mul_ps(simd::load(p + k, m), _mm512_sub_ps(gk, dot)), m);
  }
}

// x contiguous [..., R, K] -> the probabilities, and with an active draw their dropout (else
// undefined).
struct Forward {
  at::Tensor p, dropped;
};

Forward forward_kernel(const at::Tensor& x, const Draw& dr) {
  const int64_t K = x.size(-1), rows = x.numel() / K, R = x.dim() >= 2 ? x.size(-2) : 1;
  at::Tensor y = at::empty_like(x);
  at::Tensor out = dr.active ? at::empty_like(x) : at::Tensor();
  const KeepBits bits = draw_keep_bits(dr, R, K);
  simd::dispatch_float_types(x.scalar_type(), [&](auto tag) {
    using T = decltype(tag);
    const T* xp = x.data_ptr<T>();
    T* yp = y.data_ptr<T>();
    T* op = dr.active ? out.data_ptr<T>() : nullptr;
    at::parallel_for(0, rows, 16, [&](int64_t begin, int64_t end) {
      thread_local std::vector<float> scratch;  // one row of e^(x - max), reused across calls
      if (scratch.size() < static_cast<size_t>(K)) scratch.resize(static_cast<size_t>(K));
      for (int64_t r = begin; r < end; ++r) {
        T* o = op ? op + r * K : nullptr;
        if (simd::cpu_has_avx512())
          forward_row_avx512(xp + r * K, yp + r * K, o, bits.row(r, R), bits.scale, scratch.data(),
                             K);
        else
          forward_row_scalar(xp + r * K, yp + r * K, o, bits.row(r, R), bits.scale, K);
      }
    });
  });
  return {y, out};
}

// g: the gradient of the output (after dropout when dr is active), p: the saved probabilities.
at::Tensor backward_kernel(const at::Tensor& g, const at::Tensor& p, const Draw& dr) {
  const int64_t K = p.size(-1), rows = p.numel() / K, R = p.dim() >= 2 ? p.size(-2) : 1;
  at::Tensor gx = at::empty_like(p);
  const KeepBits bits = draw_keep_bits(dr, R, K);
  simd::dispatch_float_types(p.scalar_type(), [&](auto tag) {
    using T = decltype(tag);
    const T* gp = g.data_ptr<T>();
    const T* pp = p.data_ptr<T>();
    T* gxp = gx.data_ptr<T>();
    at::parallel_for(0, rows, 16, [&](int64_t begin, int64_t end) {
      for (int64_t r = begin; r < end; ++r) {
        if (simd::cpu_has_avx512())
          backward_row_avx512(gp + r * K, pp + r * K, gxp + r * K, bits.row(r, R), bits.scale, K);
        else
          backward_row_scalar(gp + r * K, pp + r * K, gxp + r * K, bits.row(r, R), bits.scale, K);
      }
    });
  });
  return gx;
}

// Saves the probabilities (before dropout: the backward pass needs every one of them).
class Softmax : public torch::autograd::Function<Softmax> {
 public:
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x,
                            double dropout_rate, int64_t dropout_seed) {
    const Draw dr = dropout_mask::make_draw({dropout_rate, static_cast<uint64_t>(dropout_seed)});
    if (dr.active) dropout_mask::check_counter(x.dim() >= 2 ? x.size(-2) * x.size(-1) : x.numel());
    const Forward f = forward_kernel(x.contiguous(), dr);
    ctx->saved_data["dropout_rate"] = dropout_rate;
    ctx->saved_data["dropout_seed"] = dropout_seed;
    ctx->save_for_backward({f.p});
    return dr.active ? f.dropped : f.p;
  }
  static torch::autograd::tensor_list backward(torch::autograd::AutogradContext* ctx,
                                               torch::autograd::tensor_list grads) {
    const at::Tensor p = ctx->get_saved_variables()[0];
    const Draw dr =
        dropout_mask::make_draw({ctx->saved_data["dropout_rate"].toDouble(),
                                 static_cast<uint64_t>(ctx->saved_data["dropout_seed"].toInt())});
    return {backward_kernel(grads[0].to(p.scalar_type()).contiguous(), p, dr), at::Tensor(),
            at::Tensor()};
  }
};

bool fast_path(const at::Tensor& x) {
  return fused_kernels_enabled() && x.device().is_cpu() && x.layout() == at::kStrided &&
         x.dim() >= 1 && x.numel() > 0 &&
         (x.scalar_type() == at::kFloat || x.scalar_type() == at::kBFloat16);
}

at::Tensor aten_softmax(const at::Tensor& x) {
  return at::softmax(x.to(at::promote_types(x.scalar_type(), at::kFloat)), -1).to(x.scalar_type());
}

}  // namespace

at::Tensor softmax_last_dim(const at::Tensor& x) {
  if (!fast_path(x)) return aten_softmax(x);
  RECORD_FUNCTION("smx::softmax_last_dim", std::vector<c10::IValue>());
  return Softmax::apply(x, 0.0, 0);
}

at::Tensor softmax_dropout_last_dim(const at::Tensor& x, const FusedDropout& dropout) {
  TORCH_CHECK(x.dim() >= 2, "softmax_dropout_last_dim: x must be [..., R, K]; got ", x.sizes());
  if (dropout.rate == 0) return softmax_last_dim(x);
  if (!fast_path(x)) {  // the same mask by ATen ops
    const at::Tensor keep =
        dropout_keep_mask(dropout, x.size(-2) * x.size(-1)).view({x.size(-2), x.size(-1)});
    return aten_softmax(x) * keep.to(x.device(), x.scalar_type()) / (1.0 - dropout.rate);
  }
  RECORD_FUNCTION("smx::softmax_last_dim", std::vector<c10::IValue>());
  return Softmax::apply(x, dropout.rate, static_cast<int64_t>(dropout.seed));
}

}  // namespace smx::ops
