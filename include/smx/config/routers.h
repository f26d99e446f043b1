// The routers (docs/design.md §2.3-2.5) as one table, one row per dispatch_algorithm: which config
// knobs apply, whether it produces the load-balancing loss, and the router's parameter and FLOP
// formulas (docs/design.md §6.1-6.2). The routing functions sit beside the routers
// (src/routing/routers.cpp) and are chosen once when an MoE layer is built; tests check that every
// row has one. Adding a router: docs/design.md §8.5.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace smx {

struct ModelConfig;

struct RouterInfo {
  std::string name;            // dispatch_algorithm value ("MASK_EXPERTS_CHOOSE")
  bool tokens_choose = false;  // tokens pick their top-k experts: num_selected_experts (k) and
                               // batch_prioritized_routing apply; else experts pick tokens (k = 1)
  bool aux_loss = false;       // produces the load-balancing loss (docs/design.md §2.5)
  // Parameters of one MoE layer's router (the experts are counted apart).
  int64_t (*parameters)(const ModelConfig& config) = nullptr;
  // Forward FLOPs of one MoE layer's router scores, per example of `seq_len` tokens.
  double (*flops)(const ModelConfig& config, double seq_len) = nullptr;
};

const std::vector<RouterInfo>& routers();
// The row named `name`, or nullptr.
const RouterInfo* find_router(const std::string& name);
// "MASK_EXPERTS_CHOOSE, ...": the known dispatch_algorithm values, for messages.
std::string router_names();

}  // namespace smx
