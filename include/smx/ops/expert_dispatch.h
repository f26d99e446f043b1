// Moving tokens into expert slots and back, by index (docs/design.md §7.3, §2.3), differentiable:
//   dispatch:  buffer[s] = tokens[index[s]]                          s: the E·M expert slots
//   combine:   out[t]    = Σ_{s : index[s] = t} weight[s] · y[s]      t: the T tokens
// ATen's index_select / index_add run the scatter side (combine, and dispatch's backward) one row
// at a time on one thread; here both directions are parallel gathers: each token sums its own
// slots through the inverse index (CSR, built once per layer call), so no two threads write the
// same row and results do not depend on the thread count. Dispatch writes the buffer in the
// dtype the expert GEMMs take (bf16 under autocast), fusing the cast into the gather; combine
// applies the combine weights and accumulates in fp32.
//
// Fast path: CPU tensors, fp32/bf16 rows. Elsewhere the same functions as ATen ops.
#pragma once

#include <ATen/core/Tensor.h>

namespace smx::ops {

// The slots of every token: token t holds slots[offsets[t] .. offsets[t+1]).
struct SlotIndex {
  at::Tensor index;    // [S] int64: the token of each slot
  at::Tensor slots;    // [S] int64: slot ids grouped by token, ascending within a token
  at::Tensor offsets;  // [T + 1] int64
  int64_t tokens = 0;  // T
};

// index: [S] int64 in [0, T).
SlotIndex make_slot_index(const at::Tensor& index, int64_t tokens);

// tokens [T, D] -> [S, D] in `dtype`.
at::Tensor dispatch_tokens(const at::Tensor& tokens, const SlotIndex& slots, at::ScalarType dtype);

// y [S, D] (fp32/bf16), weight [S] fp32 -> [T, D] fp32; tokens without a slot get zeros.
// With `bias` [A, D] (A dividing S: slot s belongs to expert s / (S / A)), each slot's expert bias
// row is added to y[s] before weighting, in the same pass: the experts' output biases without a
// pass of their own in the expert GEMM (inference; with gradients wanted it is y + bias first).
at::Tensor combine_slots(const at::Tensor& y, const at::Tensor& weight, const SlotIndex& slots,
                         const at::Tensor& bias = {});

}  // namespace smx::ops
