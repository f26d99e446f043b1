// Cross-entropy over the last axis straight from bf16 (or fp32) logits, differentiable: the MLM
// loss over [B·P, V] without an fp32 copy of the logits (docs/design.md §3.4).
//
// ATen's path casts the logits to fp32, writes log_softmax, gathers the label, and in backward
// writes the fp32 gradient and casts it to bf16: four passes over the largest tensor of the head
// (V = 32000). Here forward reads each row twice (max, then Σ e^(x - max), in fp32) and saves the
// log-sum-exp per row; backward writes g · (softmax - onehot) in the logits' dtype in one pass.
// The same pass reports whether the label's logit is the row's largest (the accuracy count).
//
// Fast path: contiguous CPU fp32/bf16 logits (AVX-512 when available); elsewhere ATen's ops.
#pragma once

#include <ATen/core/Tensor.h>

namespace smx::ops {

struct CrossEntropy {
  at::Tensor loss;  // [R] fp32: logsumexp(row) - row[label]; differentiable in the logits
  at::Tensor top1;  // [R] bool: row[label] is the row's largest (ties count)
};

// logits: [R, V] fp32 or bf16; labels: [R] int64 in [0, V).
CrossEntropy cross_entropy(const at::Tensor& logits, const at::Tensor& labels);

// The ATen composition (tests' reference and the non-CPU path).
CrossEntropy cross_entropy_reference(const at::Tensor& logits, const at::Tensor& labels);

}  // namespace smx::ops
