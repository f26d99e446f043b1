#include "smx/ops/cross_entropy.h"

#include <cmath>
#include <limits>

#include <ATen/Parallel.h>
#include <ATen/record_function.h>
#include <torch/torch.h>

#include "simd.h"
#include "smx/core/error.h"
#include "smx/ops/fused_kernels.h"

namespace smx::ops {
namespace {

struct RowStats {
  float max, lse;  // the row's largest logit and log Σ e^x
};

template <typename T>
RowStats row_stats_scalar(const T* x, int64_t V) {
  float max = -std::numeric_limits<float>::infinity();
  for (int64_t v = 0; v < V; ++v) max = std::max(max, static_cast<float>(x[v]));
  double sum = 0;
  for (int64_t v = 0; v < V; ++v) sum += std::exp(static_cast<float>(x[v]) - max);
  return {max, max + static_cast<float>(std::log(sum))};
}

template <typename T>
SMX_AVX512 RowStats row_stats_avx512(const T* x, int64_t V) {
  __m512 vmax = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
  for (int64_t v = 0; v < V; v += 16) {
    const __mmask16 m = simd::lanes(v, V);
    vmax = _mm512_mask_max_ps(vmax, m, vmax, simd::load(x + v, m));
  }
  const float max = _mm512_reduce_max_ps(vmax);
  const __m512 vm = _mm512_set1_ps(max);
  // Partial sums per 1024 logits, added in double: one fp32 accumulator over 32000 terms would
  // lose ~1e-6 of the sum.
  double sum = 0;
  for (int64_t block = 0; block < V; block += 1024) {
    __m512 vsum = _mm512_setzero_ps();
    const int64_t end = std::min(V, block + 1024);
    for (int64_t v = block; v < end; v += 16) {
      const __mmask16 m = simd::lanes(v, end);
      vsum = _mm512_add_ps(
          vsum, _mm512_maskz_mov_ps(m, simd::exp(_mm512_sub_ps(simd::load(x + v, m), vm))));
    }
    sum += _mm512_reduce_add_ps(vsum);
  }
  return {max, max + static_cast<float>(std::log(sum))};
}

// gx = g · (e^(x - lse) - [v == label]) in T.
template <typename T>
void backward_row_scalar(const T* x, T* gx, float lse, float g, int64_t label, int64_t V) {
  for (int64_t v = 0; v < V; ++v) {
    const float p = std::exp(static_cast<float>(x[v]) - lse);
    gx[v] = static_cast<T>(g * (p - (v == label ? 1.0f : 0.0f)));
  }
}

template <typename T>
SMX_AVX512 void backward_row_avx512(const T* x, T* gx, float lse, float g, int64_t label,
                                    int64_t V) {
  const __m512 vl = _mm512_set1_ps(lse), vg = _mm512_set1_ps(g);
  for (int64_t v = 0; v < V; v += 16) {
    const __mmask16 m = simd::lanes(v, V);
    // The gradient is stored in T: exp to its accuracy (the loss itself stays fp32).
    __m512 p = simd::exp<simd::exp_accuracy_for<T>()>(_mm512_sub_ps(simd::load(x + v, m), vl));
    if (label >= v && label < v + 16) {  // the one-hot lane of this row
      const auto lane = static_cast<__mmask16>(1u << (label - v));
      p = _mm512_mask_sub_ps(p, lane, p, _mm512_set1_ps(1.0f));
    }
    simd::store(gx + v, _mm512_mul_ps(vg, p), m);
  }
}

struct Forward {
  at::Tensor loss, lse, top1;  // [R] fp32, [R] fp32, [R] bool
};

Forward forward_kernel(const at::Tensor& x, const at::Tensor& labels) {
  const int64_t R = x.size(0), V = x.size(1);
  Forward f;
  f.loss = at::empty({R}, x.options().dtype(at::kFloat));
  f.lse = at::empty({R}, x.options().dtype(at::kFloat));
  f.top1 = at::empty({R}, x.options().dtype(at::kBool));
  simd::dispatch_float_types(x.scalar_type(), [&](auto tag) {
    using T = decltype(tag);
    const T* xp = x.data_ptr<T>();
    const int64_t* lp = labels.data_ptr<int64_t>();
    float *loss = f.loss.data_ptr<float>(), *lse = f.lse.data_ptr<float>();
    bool* top1 = f.top1.data_ptr<bool>();
    at::parallel_for(0, R, 1, [&](int64_t begin, int64_t end) {
      for (int64_t r = begin; r < end; ++r) {
        const T* row = xp + r * V;
        const RowStats s =
            simd::cpu_has_avx512() ? row_stats_avx512(row, V) : row_stats_scalar(row, V);
        const auto picked = static_cast<float>(row[lp[r]]);
        loss[r] = s.lse - picked;
        lse[r] = s.lse;
        top1[r] = picked >= s.max;
      }
    });
  });
  return f;
}

at::Tensor backward_kernel(const at::Tensor& g, const at::Tensor& x, const at::Tensor& labels,
                           const at::Tensor& lse) {
  const int64_t R = x.size(0), V = x.size(1);
  at::Tensor gx = at::empty_like(x);
  const at::Tensor gf = g.to(at::kFloat).contiguous();
  simd::dispatch_float_types(x.scalar_type(), [&](auto tag) {
    using T = decltype(tag);
    const T* xp = x.data_ptr<T>();
    T* gp = gx.data_ptr<T>();
    const int64_t* lp = labels.data_ptr<int64_t>();
    const float *lsep = lse.data_ptr<float>(), *grow = gf.data_ptr<float>();
    at::parallel_for(0, R, 1, [&](int64_t begin, int64_t end) {
      for (int64_t r = begin; r < end; ++r) {
        if (simd::cpu_has_avx512())
          backward_row_avx512(xp + r * V, gp + r * V, lsep[r], grow[r], lp[r], V);
        else
          backward_row_scalar(xp + r * V, gp + r * V, lsep[r], grow[r], lp[r], V);
      }
    });
  });
  return gx;
}

class CrossEntropyFn : public torch::autograd::Function<CrossEntropyFn> {
 public:
  static torch::autograd::tensor_list forward(torch::autograd::AutogradContext* ctx,
                                              const at::Tensor& logits, const at::Tensor& labels) {
    const at::Tensor x = logits.contiguous(), l = labels.contiguous();
    Forward f = forward_kernel(x, l);
    ctx->save_for_backward({x, l, f.lse});
    ctx->mark_non_differentiable({f.top1});
    return {f.loss, f.top1};
  }
  static torch::autograd::tensor_list backward(torch::autograd::AutogradContext* ctx,
                                               torch::autograd::tensor_list grads) {
    const auto s = ctx->get_saved_variables();
    return {backward_kernel(grads[0], s[0], s[1], s[2]), at::Tensor()};
  }
};

void check_inputs(const at::Tensor& logits, const at::Tensor& labels) {
  if (logits.dim() != 2 || labels.dim() != 1 || labels.size(0) != logits.size(0))
    fail("cross_entropy: logits must be [R, V] and labels [R]; got {} and {}",
         c10::str(logits.sizes()), c10::str(labels.sizes()));
  if (labels.scalar_type() != at::kLong)
    fail("cross_entropy: labels must be int64, got {}", c10::toString(labels.scalar_type()));
  if (labels.numel() > 0) {
    const int64_t low = labels.min().item<int64_t>(), high = labels.max().item<int64_t>();
    if (low < 0 || high >= logits.size(1))
      fail("cross_entropy: a label ({}) is outside [0, {})", low < 0 ? low : high, logits.size(1));
  }
}

}  // namespace

CrossEntropy cross_entropy_reference(const at::Tensor& logits, const at::Tensor& labels) {
  const at::Tensor x = logits.to(at::kFloat);
  CrossEntropy out;
  out.loss = at::cross_entropy_loss(x, labels, {}, at::Reduction::None);
  torch::NoGradGuard no_grad;
  out.top1 = x.gather(1, labels.unsqueeze(1)).squeeze(1).ge(x.amax(-1));
  return out;
}

CrossEntropy cross_entropy(const at::Tensor& logits, const at::Tensor& labels) {
  check_inputs(logits, labels);
  const bool fast = fused_kernels_enabled() && logits.device().is_cpu() &&
                    logits.layout() == at::kStrided && logits.size(1) > 0 &&
                    (logits.scalar_type() == at::kFloat || logits.scalar_type() == at::kBFloat16);
  if (!fast) return cross_entropy_reference(logits, labels);
  RECORD_FUNCTION("smx::cross_entropy", std::vector<c10::IValue>());
  const auto outs = CrossEntropyFn::apply(logits, labels);
  return {outs[0], outs[1]};
}

}  // namespace smx::ops
