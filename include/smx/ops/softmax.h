// Softmax over the last axis that keeps the input's dtype, differentiable: math in fp32, one
// read and one write per element.
//
// Under bf16 autocast at::softmax is an fp32 op: attention's [B, H, N, N] logits would be cast up,
// normalised in fp32 and cast down again for the next GEMM, three passes over the largest tensor
// of the layer. Here a bf16 input gives bf16 probabilities (which the GEMM after it would round to
// anyway), saved for the backward pass, grad_x = p · (grad_p - Σ grad_p · p).
//
// Fast path: contiguous CPU fp32/bf16 tensors (AVX-512 when available); elsewhere ATen's softmax.
#pragma once

#include <ATen/core/Tensor.h>

#include "smx/ops/dropout.h"

namespace smx::ops {

at::Tensor softmax_last_dim(const at::Tensor& x);  // [..., K] -> [..., K], x's dtype

// Softmax, then dropout with one counter-based mask (ops/dropout.h) shared by every leading index:
// x [..., R, K] -> [..., R, K], x's dtype; element (..., r, k) is kept when the mask keeps flat
// index r·K + k of an [R, K] tensor (attention's broadcast dropout: one [N, N] mask for every
// example and head). In the same pass as the softmax; the backward pass recomputes the mask. Rate
// 0 is softmax_last_dim. Off the fast path: ATen's softmax times the same mask.
at::Tensor softmax_dropout_last_dim(const at::Tensor& x, const FusedDropout& dropout);

}  // namespace smx::ops
