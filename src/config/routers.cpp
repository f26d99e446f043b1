#include "smx/config/routers.h"

#include "smx/config/model_config.h"

namespace smx {
namespace {

// Every router scores tokens with one Dense D -> E with bias (docs/design.md §2.2).
int64_t dense_router_parameters(const ModelConfig& c) {
  return c.d_model * c.num_experts + c.num_experts;
}

double dense_router_flops(const ModelConfig& c, double N) {
  return 2.0 * N * static_cast<double>(c.d_model * c.num_experts);
}

}  // namespace

const std::vector<RouterInfo>& routers() {
  // The mask and scatter tokens-choose variants of the reference compute the same thing; both run
  // with index dispatch (docs/design.md §7.3).
  static const std::vector<RouterInfo> table = {
      {"MASK_EXPERTS_CHOOSE", false, false, dense_router_parameters, dense_router_flops},
      {"MASK_TOKENS_CHOOSE", true, true, dense_router_parameters, dense_router_flops},
      {"SCATTER_TOKENS_CHOOSE", true, true, dense_router_parameters, dense_router_flops},
  };
  return table;
}

const RouterInfo* find_router(const std::string& name) {
  for (const RouterInfo& router : routers())
    if (router.name == name) return &router;
  return nullptr;
}

std::string router_names() {
  std::string names;
  for (const RouterInfo& router : routers()) names += (names.empty() ? "" : ", ") + router.name;
  return names;
}

}  // namespace smx
