#include "smx/ops/expert_dispatch.h"

#include <ATen/Parallel.h>
#include <ATen/record_function.h>
#include <torch/torch.h>

#include "simd.h"
#include "smx/ops/fused_kernels.h"

namespace smx::ops {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::tensor_list;

// ---- row kernels: D values per row ----

template <typename In, typename Out>
SMX_AVX512 void copy_row_avx512(const In* in, Out* out, int64_t D) {
  for (int64_t d = 0; d < D; d += 16) {
    const __mmask16 k = simd::lanes(d, D);
    simd::store(out + d, simd::load(in + d, k), k);
  }
}

template <typename In, typename Out>
void copy_row(const In* in, Out* out, int64_t D) {
  if (simd::cpu_has_avx512()) return copy_row_avx512(in, out, D);
  for (int64_t d = 0; d < D; ++d) out[d] = static_cast<Out>(static_cast<float>(in[d]));
}

// Rows added to the summed rows before weighting: row s gets bias[s / per_row] (D fp32 values).
struct BiasRows {
  const float* bias = nullptr;  // [S / per_row, D], or null for none
  int64_t per_row = 1;          // slots per bias row (M: an expert's slots)
};

// out (D values) = Σ_j w[rows[j]] · (base[rows[j]] + bias row of rows[j]) in fp32 (w = nullptr:
// weights 1).
template <typename In, typename Out>
SMX_AVX512 void sum_rows_avx512(const In* base, const int64_t* rows, const float* w, int64_t n,
                                Out* out, int64_t D, const BiasRows& b) {
  for (int64_t d = 0; d < D; d += 16) {
    const __mmask16 k = simd::lanes(d, D);
    __m512 acc = _mm512_setzero_ps();
    for (int64_t j = 0; j < n; ++j) {
      __m512 r = simd::load(base + rows[j] * D + d, k);
      if (b.bias) r = _mm512_add_ps(r, simd::load(b.bias + rows[j] / b.per_row * D + d, k));
      acc = w ? _mm512_fmadd_ps(_mm512_set1_ps(w[rows[j]]), r, acc) : _mm512_add_ps(acc, r);
    }
    simd::store(out + d, acc, k);
  }
}

template <typename In, typename Out>
void sum_rows(const In* base, const int64_t* rows, const float* w, int64_t n, Out* out, int64_t D,
              const BiasRows& b) {
  if (simd::cpu_has_avx512()) return sum_rows_avx512(base, rows, w, n, out, D, b);
  for (int64_t d = 0; d < D; ++d) {
    float acc = 0;
    for (int64_t j = 0; j < n; ++j) {
      const float bias = b.bias ? b.bias[rows[j] / b.per_row * D + d] : 0.0f;
      acc += (w ? w[rows[j]] : 1.0f) * (static_cast<float>(base[rows[j] * D + d]) + bias);
    }
    out[d] = static_cast<Out>(acc);
  }
}

// body(in element, out element) for rows of dtype `in` written as `out`.
template <typename F>
void dispatch_in_out(at::ScalarType in, at::ScalarType out, F&& body) {
  simd::dispatch_float_types(in, [&](auto in_tag) {
    simd::dispatch_float_types(out, [&](auto out_tag) { body(in_tag, out_tag); });
  });
}

constexpr int64_t kRowsPerTask = 32;

// out[s] = in[index[s]]
at::Tensor gather(const at::Tensor& in, const at::Tensor& index, at::ScalarType dtype) {
  const int64_t S = index.numel(), D = in.size(1);
  at::Tensor out = at::empty({S, D}, in.options().dtype(dtype));
  const int64_t* idx = index.data_ptr<int64_t>();
  dispatch_in_out(in.scalar_type(), dtype, [&](auto in_tag, auto out_tag) {
    using In = decltype(in_tag);
    using Out = decltype(out_tag);
    const In* src = in.data_ptr<In>();
    Out* dst = out.data_ptr<Out>();
    at::parallel_for(0, S, kRowsPerTask, [&](int64_t begin, int64_t end) {
      for (int64_t s = begin; s < end; ++s) copy_row(src + idx[s] * D, dst + s * D, D);
    });
  });
  return out;
}

// out[t] = Σ_{s in slots of t} (weight[s]) · (in[s] + bias row of s)
at::Tensor scatter_sum(const at::Tensor& in, const at::Tensor& weight, const SlotIndex& si,
                       at::ScalarType dtype, const BiasRows& bias = {}) {
  const int64_t T = si.tokens, D = in.size(1);
  at::Tensor out = at::empty({T, D}, in.options().dtype(dtype));
  const int64_t* slots = si.slots.data_ptr<int64_t>();
  const int64_t* offsets = si.offsets.data_ptr<int64_t>();
  const float* w = weight.defined() ? weight.data_ptr<float>() : nullptr;
  dispatch_in_out(in.scalar_type(), dtype, [&](auto in_tag, auto out_tag) {
    using In = decltype(in_tag);
    using Out = decltype(out_tag);
    const In* src = in.data_ptr<In>();
    Out* dst = out.data_ptr<Out>();
    at::parallel_for(0, T, kRowsPerTask, [&](int64_t begin, int64_t end) {
      for (int64_t t = begin; t < end; ++t)
        sum_rows(src, slots + offsets[t], w, offsets[t + 1] - offsets[t], dst + t * D, D, bias);
    });
  });
  return out;
}

// Combine's backward in one pass over the slots, with g_t = grad_out[index[s]]:
//   grad_y[s] = w[s] · g_t (y's dtype),  grad_w[s] = <g_t, y[s]> (fp32).
template <typename Y>
SMX_AVX512 float combine_backward_row_avx512(const float* g, const Y* y, float w, Y* gy,
                                             int64_t D) {
  __m512 dot = _mm512_setzero_ps();
  for (int64_t d = 0; d < D; d += 16) {
    const __mmask16 k = simd::lanes(d, D);
    const __m512 gd = simd::load(g + d, k);
    dot = _mm512_fmadd_ps(gd, simd::load(y + d, k), dot);
    simd::store(gy + d, _mm512_mul_ps(gd, _mm512_set1_ps(w)), k);
  }
  return _mm512_reduce_add_ps(dot);
}

template <typename Y>
float combine_backward_row(const float* g, const Y* y, float w, Y* gy, int64_t D) {
  if (simd::cpu_has_avx512()) return combine_backward_row_avx512(g, y, w, gy, D);
  double dot = 0;
  for (int64_t d = 0; d < D; ++d) {
    dot += g[d] * static_cast<float>(y[d]);
    gy[d] = static_cast<Y>(w * g[d]);
  }
  return static_cast<float>(dot);
}

// g [T, D] fp32, y [S, D], w [S] fp32 -> grad_y [S, D] (y's dtype), grad_w [S] fp32.
std::pair<at::Tensor, at::Tensor> combine_backward(const at::Tensor& g, const at::Tensor& y,
                                                   const at::Tensor& w, const at::Tensor& index) {
  const int64_t S = y.size(0), D = y.size(1);
  at::Tensor gy = at::empty_like(y), gw = at::empty({S}, w.options());
  const float* gp = g.data_ptr<float>();
  const float* wp = w.data_ptr<float>();
  const int64_t* idx = index.data_ptr<int64_t>();
  float* gwp = gw.data_ptr<float>();
  simd::dispatch_float_types(y.scalar_type(), [&](auto tag) {
    using Y = decltype(tag);
    const Y* yp = y.data_ptr<Y>();
    Y* gyp = gy.data_ptr<Y>();
    at::parallel_for(0, S, kRowsPerTask, [&](int64_t begin, int64_t end) {
      for (int64_t s = begin; s < end; ++s)
        gwp[s] = combine_backward_row(gp + idx[s] * D, yp + s * D, wp[s], gyp + s * D, D);
    });
  });
  return {gy, gw};
}

// ---- autograd ----

SlotIndex unpack(const std::vector<at::Tensor>& t, int64_t tokens) {
  return {t[0], t[1], t[2], tokens};
}

class Dispatch : public torch::autograd::Function<Dispatch> {
 public:
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& tokens, const at::Tensor& index,
                            const at::Tensor& slots, const at::Tensor& offsets, int64_t dtype) {
    ctx->save_for_backward({index, slots, offsets});
    ctx->saved_data["tokens"] = tokens.size(0);
    ctx->saved_data["dtype"] = static_cast<int64_t>(tokens.scalar_type());
    return gather(tokens.contiguous(), index, static_cast<at::ScalarType>(dtype));
  }
  static tensor_list backward(AutogradContext* ctx, tensor_list grads) {
    const SlotIndex si = unpack(ctx->get_saved_variables(), ctx->saved_data["tokens"].toInt());
    const auto dtype = static_cast<at::ScalarType>(ctx->saved_data["dtype"].toInt());
    // The buffer's gradient has the buffer's dtype (fp32 or bf16).
    return {scatter_sum(grads[0].contiguous(), {}, si, dtype), {}, {}, {}, {}};
  }
};

class Combine : public torch::autograd::Function<Combine> {
 public:
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& y, const at::Tensor& weight,
                            const at::Tensor& index, const at::Tensor& slots,
                            const at::Tensor& offsets, int64_t tokens) {
    const at::Tensor yc = y.contiguous(), wc = weight.contiguous();
    ctx->save_for_backward({yc, wc, index, slots, offsets});
    return scatter_sum(yc, wc, {index, slots, offsets, tokens}, at::kFloat);
  }
  static tensor_list backward(AutogradContext* ctx, tensor_list grads) {
    const auto s = ctx->get_saved_variables();
    const at::Tensor g = grads[0].to(at::kFloat).contiguous();  // [T, D]
    auto [gy, gw] = combine_backward(g, s[0], s[1], s[2]);
    return {gy, gw, {}, {}, {}, {}};
  }
};

bool cpu_rows(const at::Tensor& t) {
  return fused_kernels_enabled() && t.device().is_cpu() && t.dim() == 2 &&
         (t.scalar_type() == at::kFloat || t.scalar_type() == at::kBFloat16);
}

}  // namespace

SlotIndex make_slot_index(const at::Tensor& index, int64_t tokens) {
  SlotIndex si;
  si.tokens = tokens;
  si.index = index.reshape({-1}).to(at::kLong).contiguous();
  if (!si.index.device().is_cpu()) return si;  // the ATen path needs only `index`
  const int64_t S = si.index.numel();
  si.offsets = at::zeros({tokens + 1}, si.index.options());
  si.slots = at::empty({S}, si.index.options());
  const int64_t* idx = si.index.data_ptr<int64_t>();
  int64_t* off = si.offsets.data_ptr<int64_t>();
  int64_t* slots = si.slots.data_ptr<int64_t>();
  for (int64_t s = 0; s < S; ++s) {  // counting sort by token: O(S + T), stable
    TORCH_CHECK(idx[s] >= 0 && idx[s] < tokens, "make_slot_index: slot ", s, " names token ",
                idx[s], " of ", tokens);
    ++off[idx[s] + 1];
  }
  for (int64_t t = 0; t < tokens; ++t) off[t + 1] += off[t];
  // Place each slot at its token's next free position, advancing off[t] to the end of token t's
  // run; then shift the offsets back by one token.
  for (int64_t s = 0; s < S; ++s) slots[off[idx[s]]++] = s;
  for (int64_t t = tokens; t > 0; --t) off[t] = off[t - 1];
  off[0] = 0;
  return si;
}

at::Tensor dispatch_tokens(const at::Tensor& tokens, const SlotIndex& si, at::ScalarType dtype) {
  if (!cpu_rows(tokens) || !si.slots.defined() || (dtype != at::kFloat && dtype != at::kBFloat16))
    return tokens.index_select(0, si.index).to(dtype);
  RECORD_FUNCTION("smx::dispatch_tokens", std::vector<c10::IValue>());
  return Dispatch::apply(tokens, si.index, si.slots, si.offsets, static_cast<int64_t>(dtype));
}

at::Tensor combine_slots(const at::Tensor& y, const at::Tensor& weight, const SlotIndex& si,
                         const at::Tensor& bias) {
  if (bias.defined()) {
    const int64_t S = y.size(0);
    TORCH_CHECK(
        bias.dim() == 2 && bias.size(0) > 0 && S % bias.size(0) == 0 && bias.size(1) == y.size(1),
        "combine_slots: bias must be [A, D] with A dividing the ", S, " slots of y ", y.sizes(),
        "; got ", bias.sizes());
    const int64_t A = bias.size(0);
    const bool grads = at::GradMode::is_enabled() &&
                       (y.requires_grad() || weight.requires_grad() || bias.requires_grad());
    if (grads || !cpu_rows(y) || !si.slots.defined() || !weight.device().is_cpu() ||
        weight.scalar_type() != at::kFloat || !bias.device().is_cpu()) {
      const at::Tensor yb = (y.reshape({A, S / A, -1}) + bias.unsqueeze(1)).reshape({S, -1});
      return combine_slots(yb, weight, si);
    }
    RECORD_FUNCTION("smx::combine_slots", std::vector<c10::IValue>());
    const at::Tensor bc = bias.to(at::kFloat).contiguous();
    return scatter_sum(y.contiguous(), weight.reshape({-1}).contiguous(), si, at::kFloat,
                       {bc.data_ptr<float>(), S / A});
  }
  if (!cpu_rows(y) || !si.slots.defined() || !weight.device().is_cpu() ||
      weight.scalar_type() != at::kFloat) {
    const at::Tensor yw = y.to(at::kFloat) * weight.reshape({-1, 1}).to(at::kFloat);
    return torch::zeros({si.tokens, y.size(1)}, yw.options()).index_add(0, si.index, yw);
  }
  RECORD_FUNCTION("smx::combine_slots", std::vector<c10::IValue>());
  return Combine::apply(y, weight.reshape({-1}), si.index, si.slots, si.offsets, si.tokens);
}

}  // namespace smx::ops
