#include "smx/routing/routers.h"

#include <map>

#include "smx/core/error.h"
#include "smx/routing/experts_choose.h"
#include "smx/routing/tokens_choose.h"

namespace smx::routing {
namespace {

Router make_experts_choose(const ModelConfig&) {
  return experts_choose;
}

Router make_tokens_choose(const ModelConfig& c) {
  const TokensChooseOptions options{c.num_selected_experts, c.batch_prioritized_routing};
  return [options](const RoutingProblem& problem) { return tokens_choose(problem, options); };
}

// One row per row of config/routers.h, keyed by its name.
const std::map<std::string, RouterFactory>& factories() {
  static const std::map<std::string, RouterFactory> table = {
      {"MASK_EXPERTS_CHOOSE", make_experts_choose},
      {"MASK_TOKENS_CHOOSE", make_tokens_choose},
      {"SCATTER_TOKENS_CHOOSE", make_tokens_choose},
  };
  return table;
}

}  // namespace

RouterFactory find_router_factory(const std::string& name) {
  const auto it = factories().find(name);
  return it == factories().end() ? nullptr : it->second;
}

Router make_router(const ModelConfig& config) {
  const RouterInfo& info = config.router();
  const RouterFactory make = find_router_factory(info.name);
  if (make == nullptr)
    fail(
        "router '{}' has a row in src/config/routers.cpp but no factory in "
        "src/routing/routers.cpp; add one (docs/design.md §8.5)",
        info.name);
  return make(config);
}

}  // namespace smx::routing
