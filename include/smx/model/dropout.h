// Dropout in the model's training passes. On CPU with the fused kernels on, masks are
// counter-based (ops/dropout.h): no bernoulli_ pass, no mask tensor, and a mask can ride inside
// the pass that consumes x (the MLP's output dropout inside the output add & norm). Elsewhere
// (CUDA, `smx bench --ablation fused`) ATen's dropout. Either way a run's masks follow its seed.
#pragma once

#include <ATen/core/Tensor.h>

#include "smx/ops/dropout.h"

namespace smx::model {

// The dropout for a fused kernel to apply to x: {rate, a fresh seed} in training when the
// counter-based kernels run on x; rate 0 (none) otherwise, and then the caller applies dropout().
ops::FusedDropout fused_dropout_for(const at::Tensor& x, double rate, bool training);

// x after dropout in training, x itself otherwise: any shape -> the same shape and dtype.
at::Tensor dropout(const at::Tensor& x, double rate, bool training);

}  // namespace smx::model
