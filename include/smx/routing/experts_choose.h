// Experts-Choose routing (docs/design.md §2.3): every expert takes the top-C tokens of its
// probability column in each group; ties go to the lower token index; buffer order is descending
// probability.
#pragma once

#include "smx/routing/dispatch.h"

namespace smx::routing {

Dispatch experts_choose(const RoutingProblem& problem);

}  // namespace smx::routing
