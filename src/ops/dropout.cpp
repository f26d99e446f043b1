#include "smx/ops/dropout.h"

#include <mutex>

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <ATen/record_function.h>
#include <torch/torch.h>

#include "dropout_mask.h"
#include "simd.h"
#include "smx/ops/fused_kernels.h"

namespace smx::ops {
namespace {

using dropout_mask::Draw;

// y[i] = x[i] · keep(index0 + i) · scale over n elements.
template <typename T>
void apply_scalar(const T* x, T* y, int64_t n, int64_t index0, const Draw& dr) {
  for (int64_t i = 0; i < n; ++i)
    y[i] = static_cast<T>(dropout_mask::dropped(x[i], index0 + i, dr));
}

template <typename T>
SMX_AVX512 void apply_avx512(const T* x, T* y, int64_t n, int64_t index0, const Draw& dr) {
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 k = simd::lanes(i, n);
    simd::store(y + i, dropout_mask::load_dropped(x + i, k, index0 + i, dr), k);
  }
}

// x contiguous, fp32 or bf16: the masked copy. Forward and backward are the same map (the
// gradient of x · keep · scale is g · keep · scale), so both passes call this.
at::Tensor apply_mask(const at::Tensor& x, const Draw& dr) {
  at::Tensor y = at::empty_like(x);
  const int64_t n = x.numel();
  simd::dispatch_float_types(x.scalar_type(), [&](auto tag) {
    using T = decltype(tag);
    const T* xp = x.data_ptr<T>();
    T* yp = y.data_ptr<T>();
    // Tasks of 64 Ki elements (a multiple of 16, so vectors never straddle two tasks).
    at::parallel_for(0, n, int64_t{1} << 16, [&](int64_t begin, int64_t end) {
      if (simd::cpu_has_avx512())
        apply_avx512(xp + begin, yp + begin, end - begin, begin, dr);
      else
        apply_scalar(xp + begin, yp + begin, end - begin, begin, dr);
    });
  });
  return y;
}

class Dropout : public torch::autograd::Function<Dropout> {
 public:
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x, double rate,
                            int64_t seed) {
    ctx->saved_data["rate"] = rate;
    ctx->saved_data["seed"] = seed;
    return apply_mask(x.contiguous(), dropout_mask::make_draw({rate, static_cast<uint64_t>(seed)}));
  }
  static torch::autograd::tensor_list backward(torch::autograd::AutogradContext* ctx,
                                               torch::autograd::tensor_list grads) {
    const Draw dr =
        dropout_mask::make_draw({ctx->saved_data["rate"].toDouble(),
                                 static_cast<uint64_t>(ctx->saved_data["seed"].toInt())});
    return {apply_mask(grads[0].contiguous(), dr), at::Tensor(), at::Tensor()};
  }
};

}  // namespace

at::Tensor dropout_keep_mask(const FusedDropout& dropout, int64_t n) {
  const Draw dr = dropout_mask::make_draw(dropout);
  dropout_mask::check_counter(n);
  at::Tensor keep = at::empty({n}, at::TensorOptions().dtype(at::kBool));
  bool* k = keep.data_ptr<bool>();
  for (int64_t i = 0; i < n; ++i) k[i] = !dr.active || dropout_mask::keeps(dr, i);
  return keep;
}

uint64_t draw_dropout_seed() {
  auto* gen = at::check_generator<at::CPUGeneratorImpl>(at::detail::getDefaultCPUGenerator());
  const std::lock_guard<std::mutex> lock(gen->mutex_);
  return gen->random64();
}

at::Tensor dropout(const at::Tensor& x, const FusedDropout& dropout) {
  const Draw dr = dropout_mask::make_draw(dropout);
  if (!dr.active) return x;
  dropout_mask::check_counter(x.numel());
  const bool fast = fused_kernels_enabled() && x.device().is_cpu() && x.layout() == at::kStrided &&
                    (x.scalar_type() == at::kFloat || x.scalar_type() == at::kBFloat16);
  if (!fast) {
    const at::Tensor keep = dropout_keep_mask(dropout, x.numel()).to(x.device()).view(x.sizes());
    return x * keep.to(x.scalar_type()) * dr.scale;
  }
  RECORD_FUNCTION("smx::dropout", std::vector<c10::IValue>());
  return Dropout::apply(x, dropout.rate, static_cast<int64_t>(dropout.seed));
}

}  // namespace smx::ops
