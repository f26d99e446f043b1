// The result of routing one MoE layer's tokens: which token fills each expert slot, and with what
// combine weight. Every expert has the same number of slots M, so all experts run as one batched
// GEMM over a [E, M, D] buffer (docs/design.md §7.3: dispatch by index, never one-hot einsums).
#pragma once

#include <vector>

#include <ATen/core/Tensor.h>

namespace smx::routing {

struct Dispatch {
  at::Tensor token_index;     // [E, M] int64: flat index into the layer's [T, D] tokens
  at::Tensor combine_weight;  // [E, M] fp32: router probability p[t, e]; 0 for empty slots
  at::Tensor aux_loss;        // [] fp32: load-balancing loss (0 for experts-choose)
};

// Per-group routing inputs shared by the routers.
struct RoutingProblem {
  at::Tensor probs;               // [G, S, E] fp32 softmax over experts
  at::Tensor valid;               // [G, S] bool: tokens that may be routed (undefined = all)
  std::vector<int64_t> capacity;  // [G] slots per expert in each group, each <= S
  int64_t max_capacity = 0;       // max over groups of capacity
};

// Turns per-group slot tables into a Dispatch: slots c >= capacity[g] are dropped, so groups with
// fewer real tokens contribute fewer slots, and every expert keeps the same slot count M.
// token_in_group: [G, E, C_max] int64 index within the group; weight: [G, E, C_max] fp32.
Dispatch flatten_slots(const RoutingProblem& problem, const at::Tensor& token_in_group,
                       const at::Tensor& weight);

}  // namespace smx::routing
