// Dropout with a counter-based mask (docs/design.md §7.6): element i of x is kept when a hash of
// (seed, i) clears rate · 2^32, and kept elements are scaled by 1 / (1 - rate). Nothing random is
// drawn per element and no mask tensor is stored: one pass reads x and writes the output, and the
// backward pass recomputes the same mask from the seed. The same mask can be applied inside
// another fused pass (ops/add_layer_norm.h takes a FusedDropout for its x).
//
// Fast path: CPU, fp32 or bf16, below 2^32 elements (AVX-512 where the CPU has it, else a scalar
// loop, bit-identical). Elsewhere the same mask as ATen ops (the reference of the tests).
#pragma once

#include <cstdint>

#include <ATen/core/Tensor.h>

namespace smx::ops {

struct FusedDropout {
  double rate = 0;  // in [0, 1); 0: no dropout
  uint64_t seed = 0;
};

// x: any shape, fp32 or bf16 -> same shape and dtype, x · keep / (1 - rate). Differentiable.
at::Tensor dropout(const at::Tensor& x, const FusedDropout& dropout);

// The keep decisions over the first n flat elements: [n] bool (tests, the reference path).
at::Tensor dropout_keep_mask(const FusedDropout& dropout, int64_t n);

// A fresh seed from the default CPU generator, so a run's masks follow its seed and the generator
// state its checkpoints record.
uint64_t draw_dropout_seed();

}  // namespace smx::ops
