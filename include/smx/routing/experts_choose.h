// Experts-Choose routing (docs/design.md §2.3): every expert takes the top-C tokens of its
// probability column in each group; ties go to the lower token index; buffer order is descending
// probability.
#pragma once

#include "smx/routing/dispatch.h"

namespace smx::routing {

Dispatch experts_choose(const RoutingProblem& problem);

// The indices of the C largest scores of every row, largest first, ties to the lower index: the
// first C of a stable descending sort. scores: [..., S] float -> [..., C] int64. On CPU a partial
// sort per row (O(S log C), rows in parallel) instead of sorting all S.
at::Tensor stable_top_indices(const at::Tensor& scores, int64_t C);

}  // namespace smx::routing
