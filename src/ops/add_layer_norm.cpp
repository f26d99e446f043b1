#include "smx/ops/add_layer_norm.h"

#include <cmath>
#include <vector>

#include <ATen/Parallel.h>
#include <ATen/record_function.h>
#include <torch/torch.h>

#include "dropout_mask.h"
#include "simd.h"
#include "smx/ops/fused_kernels.h"

namespace smx::ops {
namespace {

using dropout_mask::dropped;
using dropout_mask::load_dropped;
using DropoutDraw = dropout_mask::Draw;

// Per row: mean and 1/std of v = x + r, then y = (v - mean)·rstd·scale + bias.
template <typename X, typename R, typename Y>
void forward_rows_scalar(const X* x, const R* r, const float* scale, const float* bias, Y* y,
                         float* mean_out, float* rstd_out, int64_t rows, int64_t D, float eps,
                         int64_t index0, const DropoutDraw& dr) {
  for (int64_t i = 0; i < rows; ++i, x += D, r += D, y += D, index0 += D) {
    double sum = 0, sq = 0;
    for (int64_t d = 0; d < D; ++d) {
      const float v = dropped(x[d], index0 + d, dr) + static_cast<float>(r[d]);
      sum += v;
      sq += static_cast<double>(v) * v;
    }
    const double mean = sum / static_cast<double>(D);
    const double var = std::max(0.0, sq / static_cast<double>(D) - mean * mean);
    const auto rstd = static_cast<float>(1.0 / std::sqrt(var + eps));
    const auto m = static_cast<float>(mean);
    for (int64_t d = 0; d < D; ++d) {
      const float v = dropped(x[d], index0 + d, dr) + static_cast<float>(r[d]);
      y[d] = static_cast<Y>((v - m) * rstd * scale[d] + bias[d]);
    }
    mean_out[i] = m;
    rstd_out[i] = rstd;
  }
}

// `v` is a scratch row of D floats: v = dropout(x) + r is formed once per row (the mask drawn once)
// and the statistics and the output read it from L1.
template <typename X, typename R, typename Y>
SMX_AVX512 void forward_rows_avx512(const X* x, const R* r, const float* scale, const float* bias,
                                    Y* y, float* mean_out, float* rstd_out, int64_t rows, int64_t D,
                                    float eps, int64_t index0, const DropoutDraw& dr, float* v) {
  for (int64_t i = 0; i < rows; ++i, x += D, r += D, y += D, index0 += D) {
    // Two passes over v: the mean, then the centred second moment.
    __m512 vsum = _mm512_setzero_ps();
    for (int64_t d = 0; d < D; d += 16) {
      const __mmask16 k = simd::lanes(d, D);
      const __m512 vd = _mm512_add_ps(load_dropped(x + d, k, index0 + d, dr), simd::load(r + d, k));
      simd::store(v + d, vd, k);
      vsum = _mm512_add_ps(vsum, vd);
    }
    const float mean = _mm512_reduce_add_ps(vsum) / static_cast<float>(D);
    const __m512 m = _mm512_set1_ps(mean);
    __m512 vsq = _mm512_setzero_ps();
    for (int64_t d = 0; d < D; d += 16) {
      const __mmask16 k = simd::lanes(d, D);
      const __m512 c = _mm512_maskz_sub_ps(k, simd::load(v + d, k), m);
      vsq = _mm512_fmadd_ps(c, c, vsq);
    }
    const float rstd = 1.0f / std::sqrt(_mm512_reduce_add_ps(vsq) / static_cast<float>(D) + eps);
    const __m512 s = _mm512_set1_ps(rstd);
    for (int64_t d = 0; d < D; d += 16) {
      const __mmask16 k = simd::lanes(d, D);
      const __m512 c = _mm512_sub_ps(simd::load(v + d, k), m);
      simd::store(
          y + d,
          _mm512_fmadd_ps(_mm512_mul_ps(c, s), simd::load(scale + d, k), simd::load(bias + d, k)),
          k);
    }
    mean_out[i] = mean;
    rstd_out[i] = rstd;
  }
}

// With v̂ = (v - mean)·rstd and gs = g·scale:
//   grad_v = rstd · (gs - mean(gs) - v̂ · mean(gs · v̂)),  gscale += g·v̂,  gbias += g.
// g and gv in the output's type Y (fp32, or bf16 with a bf16 output); math in fp32.
template <typename X, typename R, typename Y>
// With dropout, gx (else null) receives grad_v through the mask: gx = grad_v · keep · scale.
void backward_rows_scalar(const Y* g, const X* x, const R* r, const float* scale, const float* mean,
                          const float* rstd, Y* gv, Y* gx, float* gscale, float* gbias,
                          int64_t rows, int64_t D, int64_t index0, const DropoutDraw& dr) {
  for (int64_t i = 0; i < rows;
       ++i, g += D, x += D, r += D, gv += D, gx = gx ? gx + D : nullptr, index0 += D) {
    double a = 0, b = 0;
    for (int64_t d = 0; d < D; ++d) {
      const float vh =
          (dropped(x[d], index0 + d, dr) + static_cast<float>(r[d]) - mean[i]) * rstd[i];
      const auto gd = static_cast<float>(g[d]);
      const float gs = gd * scale[d];
      a += gs;
      b += gs * vh;
      gscale[d] += gd * vh;
      gbias[d] += gd;
    }
    const auto ma = static_cast<float>(a / static_cast<double>(D));
    const auto mb = static_cast<float>(b / static_cast<double>(D));
    for (int64_t d = 0; d < D; ++d) {
      const float vh =
          (dropped(x[d], index0 + d, dr) + static_cast<float>(r[d]) - mean[i]) * rstd[i];
      const float grad_v = rstd[i] * (static_cast<float>(g[d]) * scale[d] - ma - vh * mb);
      gv[d] = static_cast<Y>(grad_v);
      if (gx)
        gx[d] = static_cast<Y>(dropout_mask::keeps(dr, index0 + d) ? grad_v * dr.scale : 0.0f);
    }
  }
}

// `scratch` holds 2·D floats: the first pass keeps v̂ and gs there (and the keep decisions in
// `keep`, D/16 rounded up, with dropout) so the second pass neither reloads x, r and g nor draws
// the mask again.
template <typename X, typename R, typename Y>
SMX_AVX512 void backward_rows_avx512(const Y* g, const X* x, const R* r, const float* scale,
                                     const float* mean, const float* rstd, Y* gv, Y* gx,
                                     float* gscale, float* gbias, int64_t rows, int64_t D,
                                     int64_t index0, const DropoutDraw& dr, float* scratch,
                                     __mmask16* keep) {
  float* vh_row = scratch;
  float* gs_row = scratch + D;
  const __m512 drop_scale = _mm512_set1_ps(dr.scale);
  for (int64_t i = 0; i < rows;
       ++i, g += D, x += D, r += D, gv += D, gx = gx ? gx + D : nullptr, index0 += D) {
    const __m512 m = _mm512_set1_ps(mean[i]), s = _mm512_set1_ps(rstd[i]);
    __m512 va = _mm512_setzero_ps(), vb = _mm512_setzero_ps();
    for (int64_t d = 0; d < D; d += 16) {
      const __mmask16 k = simd::lanes(d, D);
      __m512 xd = simd::load(x + d, k);
      if (dr.active) {
        const __mmask16 kept = dropout_mask::keeps16(dr, index0 + d);
        keep[d / 16] = kept;
        xd = _mm512_maskz_mul_ps(kept, xd, drop_scale);
      }
      const __m512 vh = _mm512_mul_ps(_mm512_sub_ps(_mm512_add_ps(xd, simd::load(r + d, k)), m), s);
      const __m512 gd = simd::load(g + d, k);
      const __m512 gs = _mm512_mul_ps(gd, simd::load(scale + d, k));
      simd::store(vh_row + d, vh, k);
      simd::store(gs_row + d, gs, k);
      va = _mm512_add_ps(va, gs);
      vb = _mm512_fmadd_ps(gs, vh, vb);
      simd::store(gscale + d, _mm512_fmadd_ps(gd, vh, simd::load(gscale + d, k)), k);
      simd::store(gbias + d, _mm512_add_ps(gd, simd::load(gbias + d, k)), k);
    }
    const __m512 ma = _mm512_set1_ps(_mm512_reduce_add_ps(va) / static_cast<float>(D));
    const __m512 mb = _mm512_set1_ps(_mm512_reduce_add_ps(vb) / static_cast<float>(D));
    for (int64_t d = 0; d < D; d += 16) {
      const __mmask16 k = simd::lanes(d, D);
      const __m512 grad_v =
          _mm512_mul_ps(s, _mm512_sub_ps(_mm512_sub_ps(simd::load(gs_row + d, k), ma),
                                         _mm512_mul_ps(simd::load(vh_row + d, k), mb)));
      simd::store(gv + d, grad_v, k);
      if (gx) simd::store(gx + d, _mm512_maskz_mul_ps(keep[d / 16], grad_v, drop_scale), k);
    }
  }
}

// body(x element, residual element, output element) for the dtypes of x, r and the output.
template <typename F>
void dispatch_types(const at::Tensor& x, const at::Tensor& r, at::ScalarType out, F&& body) {
  simd::dispatch_float_types(x.scalar_type(), [&](auto x_tag) {
    simd::dispatch_float_types(r.scalar_type(), [&](auto r_tag) {
      simd::dispatch_float_types(out, [&](auto y_tag) { body(x_tag, r_tag, y_tag); });
    });
  });
}

constexpr int64_t kRowsPerTask = 8;

// n values of T for this thread's kernel calls (grown, never shrunk; no allocation per call once
// it has the model's width): rows of floats, and a row's keep decisions, 16 per mask.
template <typename T>
T* thread_scratch(int64_t n) {
  thread_local std::vector<T> row;
  if (static_cast<int64_t>(row.size()) < n) row.resize(n);
  return row.data();
}

struct Forward {
  at::Tensor y, mean, rstd;  // [rows, D] in the output dtype, [rows] fp32, [rows] fp32
};

Forward forward_kernel(const at::Tensor& x, const at::Tensor& r, const at::Tensor& scale,
                       const at::Tensor& bias, double eps, at::ScalarType out,
                       const DropoutDraw& dr) {
  const int64_t D = x.size(-1), rows = x.numel() / D;
  Forward f;
  f.y = at::empty(x.sizes(), x.options().dtype(out));
  f.mean = at::empty({rows}, x.options().dtype(at::kFloat));
  f.rstd = at::empty({rows}, f.mean.options());
  dispatch_types(x, r, out, [&](auto x_tag, auto r_tag, auto y_tag) {
    using X = decltype(x_tag);
    using R = decltype(r_tag);
    using Y = decltype(y_tag);
    const X* xp = x.data_ptr<X>();
    const R* rp = r.data_ptr<R>();
    const float *sp = scale.data_ptr<float>(), *bp = bias.data_ptr<float>();
    Y* yp = f.y.data_ptr<Y>();
    float *mp = f.mean.data_ptr<float>(), *rs = f.rstd.data_ptr<float>();
    at::parallel_for(0, rows, kRowsPerTask, [&](int64_t begin, int64_t end) {
      const int64_t o = begin * D;
      if (simd::cpu_has_avx512())
        forward_rows_avx512(xp + o, rp + o, sp, bp, yp + o, mp + begin, rs + begin, end - begin, D,
                            static_cast<float>(eps), o, dr, thread_scratch<float>(D));
      else
        forward_rows_scalar(xp + o, rp + o, sp, bp, yp + o, mp + begin, rs + begin, end - begin, D,
                            static_cast<float>(eps), o, dr);
    });
  });
  return f;
}

struct Backward {
  at::Tensor gv, gx;  // grad of v = dropout(x) + r, and of x (gv itself without dropout)
  at::Tensor gscale, gbias;
};

// Gradients in g's dtype (the output's); the scale and bias gradients in fp32.
Backward backward_kernel(const at::Tensor& g, const at::Tensor& x, const at::Tensor& r,
                         const at::Tensor& scale, const at::Tensor& mean, const at::Tensor& rstd,
                         const DropoutDraw& dr) {
  const int64_t D = x.size(-1), rows = x.numel() / D;
  const simd::RowChunks chunks(rows);  // the scale and bias gradients' partial rows
  at::Tensor gv = at::empty(x.sizes(), g.options());
  at::Tensor gx = dr.active ? at::empty(x.sizes(), g.options()) : gv;
  at::Tensor partial =
      at::zeros({2, chunks.count, D}, g.options().dtype(at::kFloat));  // scale, bias
  dispatch_types(x, r, g.scalar_type(), [&](auto x_tag, auto r_tag, auto y_tag) {
    using X = decltype(x_tag);
    using R = decltype(r_tag);
    using Y = decltype(y_tag);
    const Y* gp = g.data_ptr<Y>();
    const X* xp = x.data_ptr<X>();
    const R* rp = r.data_ptr<R>();
    const float *sp = scale.data_ptr<float>(), *mp = mean.data_ptr<float>(),
                *rs = rstd.data_ptr<float>();
    Y* gvp = gv.data_ptr<Y>();
    Y* gxp = dr.active ? gx.data_ptr<Y>() : nullptr;
    float* pp = partial.data_ptr<float>();
    at::parallel_for(0, chunks.count, 1, [&](int64_t begin, int64_t end) {
      for (int64_t c = begin; c < end; ++c) {
        const int64_t first = chunks.first(c), n = chunks.end(c) - first, o = first * D;
        float* gscale = pp + c * D;
        float* gbias = pp + (chunks.count + c) * D;
        Y* gxo = gxp ? gxp + o : nullptr;
        if (simd::cpu_has_avx512())
          backward_rows_avx512(gp + o, xp + o, rp + o, sp, mp + first, rs + first, gvp + o, gxo,
                               gscale, gbias, n, D, o, dr, thread_scratch<float>(2 * D),
                               thread_scratch<__mmask16>((D + 15) / 16));
        else
          backward_rows_scalar(gp + o, xp + o, rp + o, sp, mp + first, rs + first, gvp + o, gxo,
                               gscale, gbias, n, D, o, dr);
      }
    });
  });
  const at::Tensor sums = partial.sum(1);  // [2, D]
  return {gv, gx, sums[0], sums[1]};
}

class AddLayerNorm : public torch::autograd::Function<AddLayerNorm> {
 public:
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x,
                            const at::Tensor& r, const at::Tensor& scale, const at::Tensor& bias,
                            double eps, bool bf16_out, double dropout_rate, int64_t dropout_seed) {
    const at::Tensor xc = x.contiguous(), rc = r.contiguous();
    const at::Tensor sc = scale.contiguous(), bc = bias.contiguous();
    const DropoutDraw dr = dropout_mask::make_draw(
        {dropout_rate, static_cast<uint64_t>(dropout_seed)});  // the mask's counter
    Forward f = forward_kernel(xc, rc, sc, bc, eps, bf16_out ? at::kBFloat16 : at::kFloat, dr);
    ctx->saved_data["bf16_out"] = bf16_out;
    ctx->saved_data["dropout_rate"] = dropout_rate;
    ctx->saved_data["dropout_seed"] = dropout_seed;
    ctx->save_for_backward({xc, rc, sc, f.mean, f.rstd});
    return f.y;
  }
  static torch::autograd::tensor_list backward(torch::autograd::AutogradContext* ctx,
                                               torch::autograd::tensor_list grads) {
    const auto s = ctx->get_saved_variables();
    const at::ScalarType out = ctx->saved_data["bf16_out"].toBool() ? at::kBFloat16 : at::kFloat;
    const at::Tensor g = grads[0].to(out).contiguous();
    const DropoutDraw dr =
        dropout_mask::make_draw({ctx->saved_data["dropout_rate"].toDouble(),
                                 static_cast<uint64_t>(ctx->saved_data["dropout_seed"].toInt())});
    const Backward b = backward_kernel(g, s[0], s[1], s[2], s[3], s[4], dr);
    const at::Tensor gx = s[0].scalar_type() == out ? b.gx : b.gx.to(s[0].scalar_type());
    const at::Tensor gr = s[1].scalar_type() == out ? b.gv : b.gv.to(s[1].scalar_type());
    return {gx, gr, b.gscale, b.gbias, at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

bool fast_path(const at::Tensor& x, const at::Tensor& r, const at::Tensor& scale,
               const at::Tensor& bias) {
  const auto cpu_float = [](const at::Tensor& t) {
    return t.device().is_cpu() && t.layout() == at::kStrided &&
           (t.scalar_type() == at::kFloat || t.scalar_type() == at::kBFloat16);
  };
  return fused_kernels_enabled() && cpu_float(x) && cpu_float(r) && x.sizes() == r.sizes() &&
         x.numel() > 0 && scale.device().is_cpu() && scale.scalar_type() == at::kFloat &&
         bias.scalar_type() == at::kFloat && scale.dim() == 1 && scale.size(0) == x.size(-1);
}

}  // namespace

at::Tensor add_layer_norm_reference(const at::Tensor& x, const at::Tensor& residual,
                                    const at::Tensor& scale, const at::Tensor& bias, double eps) {
  const at::Tensor v = x.to(scale.scalar_type()) + residual.to(scale.scalar_type());
  return at::layer_norm(v, {v.size(-1)}, scale, bias, eps);
}

at::Tensor add_layer_norm(const at::Tensor& x, const at::Tensor& residual, const at::Tensor& scale,
                          const at::Tensor& bias, double eps,
                          std::optional<at::ScalarType> out_dtype, const FusedDropout& dropout) {
  const at::ScalarType out = out_dtype.value_or(scale.scalar_type());
  if (dropout.rate > 0) dropout_mask::check_counter(x.numel());
  if (!fast_path(x, residual, scale, bias) || (out != at::kFloat && out != at::kBFloat16)) {
    const at::Tensor y =
        add_layer_norm_reference(ops::dropout(x, dropout), residual, scale, bias, eps);
    return y.scalar_type() == out ? y : y.to(out);
  }
  RECORD_FUNCTION("smx::add_layer_norm", std::vector<c10::IValue>());
  return AddLayerNorm::apply(x, residual, scale, bias, eps, out == at::kBFloat16, dropout.rate,
                             static_cast<int64_t>(dropout.seed));
}

}  // namespace smx::ops
