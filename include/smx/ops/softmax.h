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

namespace smx::ops {

at::Tensor softmax_last_dim(const at::Tensor& x);  // [..., K] -> [..., K], x's dtype

}  // namespace smx::ops
