#include "smx/routing/dispatch.h"

#include <algorithm>

#include <torch/torch.h>

namespace smx::routing {

Dispatch flatten_slots(const RoutingProblem& problem, const at::Tensor& token_in_group,
                       const at::Tensor& weight) {
  const int64_t G = token_in_group.size(0), E = token_in_group.size(1);
  const int64_t C = token_in_group.size(2), S = problem.probs.size(1);
  const auto options = token_in_group.options();
  // Group-local token index -> flat index into the layer's [G * S] tokens.
  const at::Tensor offset = torch::arange(G, options).mul_(S).view({G, 1, 1});
  at::Tensor index = (token_in_group + offset).permute({1, 0, 2}).reshape({E, G * C});
  at::Tensor w = weight.permute({1, 0, 2}).reshape({E, G * C});

  const bool uniform = std::all_of(problem.capacity.begin(), problem.capacity.end(),
                                   [C](int64_t c) { return c == C; });
  if (!uniform) {
    // Keep slot (g, c) iff c < capacity[g]: the same slots for every expert, so M stays shared.
    std::vector<int64_t> kept;
    for (int64_t g = 0; g < G; ++g)
      for (int64_t c = 0; c < problem.capacity[g]; ++c) kept.push_back(g * C + c);
    const at::Tensor keep = torch::tensor(kept, options);
    index = index.index_select(1, keep);
    w = w.index_select(1, keep);
  }
  return {index.contiguous(), w.contiguous(), torch::zeros({}, problem.probs.options())};
}

}  // namespace smx::routing
