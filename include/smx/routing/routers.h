// The routing function of each config/routers.h row (docs/design.md §2.3-2.4), with the config's
// options bound. An MoE layer picks its router once, when it is built.
#pragma once

#include <functional>
#include <string>

#include "smx/config/model_config.h"
#include "smx/routing/dispatch.h"

namespace smx::routing {

// Fills the experts' slots of one MoE layer's routing problem.
using Router = std::function<Dispatch(const RoutingProblem& problem)>;

// Builds the router of one row from a config (its knobs bound).
using RouterFactory = Router (*)(const ModelConfig& config);

// The factory of the row named `name`, or nullptr (tests: every row has one).
RouterFactory find_router_factory(const std::string& name);

// The router of config.dispatch_algorithm.
Router make_router(const ModelConfig& config);

}  // namespace smx::routing
