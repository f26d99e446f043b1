#include "smx/model/dropout.h"

#include <torch/torch.h>

#include "smx/ops/fused_kernels.h"

namespace smx::model {

ops::FusedDropout fused_dropout_for(const at::Tensor& x, double rate, bool training) {
  const bool counter_based = ops::fused_kernels_enabled() && x.device().is_cpu() &&
                             x.numel() < (int64_t{1} << 32) &&
                             (x.scalar_type() == at::kFloat || x.scalar_type() == at::kBFloat16);
  if (!training || rate <= 0 || !counter_based) return {};
  return {rate, ops::draw_dropout_seed()};
}

at::Tensor dropout(const at::Tensor& x, double rate, bool training) {
  if (!training || rate <= 0) return x;
  const ops::FusedDropout fused = fused_dropout_for(x, rate, training);
  return fused.rate > 0 ? ops::dropout(x, fused) : at::dropout(x, rate, training);
}

}  // namespace smx::model
