// Group and capacity arithmetic of the MoE layer (docs/design.md §2.1).
#pragma once

#include <cstdint>

namespace smx::routing {

// Number of routing groups G for T tokens with groups of at most `max_group_size` tokens:
// G = max(1, floor(T / max_group_size)), then increased until it divides T (reference rule).
int64_t num_groups(int64_t num_tokens, int64_t max_group_size);

// Slots per expert per group: C = max(min_capacity, round_half_even(cf * S / E)).
int64_t expert_capacity(double capacity_factor, int64_t tokens_per_group, int64_t num_experts,
                        int64_t min_capacity);

}  // namespace smx::routing
