// Tokens-Choose top-k routing with optional Batch Prioritized Routing (docs/design.md §2.4): each
// token picks its top-k experts; buffer positions are assigned choice by choice (BPR: highest top-1
// gate first); assignments past an expert's capacity are dropped without renormalising the others.
#pragma once

#include "smx/routing/dispatch.h"

namespace smx::routing {

struct TokensChooseOptions {
  int64_t num_selected_experts = 1;  // k
  bool batch_prioritized_routing = true;
};

// Also fills Dispatch::aux_loss with the Switch load-balancing loss, computed before capacity
// drops.
Dispatch tokens_choose(const RoutingProblem& problem, const TokensChooseOptions& options);

}  // namespace smx::routing
