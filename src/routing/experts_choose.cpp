#include "smx/routing/experts_choose.h"

#include <torch/torch.h>

namespace smx::routing {

Dispatch experts_choose(const RoutingProblem& problem) {
  const at::Tensor& probs = problem.probs;  // [G, S, E]
  const int64_t G = probs.size(0), S = probs.size(1), E = probs.size(2);
  const int64_t C = problem.max_capacity;

  at::Tensor scores = probs.detach().permute({0, 2, 1});  // [G, E, S]
  if (problem.valid.defined())  // pads sort after every real token (probabilities are >= 0)
    scores = scores.masked_fill(problem.valid.logical_not().unsqueeze(1), -1.0);
  // Stable descending sort: equal probabilities keep token order, so ties go to the lower index.
  at::Tensor order =
      std::get<1>(at::sort(scores, /*stable=*/true, /*dim=*/-1, /*descending=*/true));
  at::Tensor chosen = order.narrow(2, 0, C).contiguous();  // [G, E, C]

  at::Tensor weight = probs.permute({0, 2, 1}).gather(2, chosen);  // [G, E, C], differentiable
  if (problem.valid.defined())
    weight = weight * problem.valid.unsqueeze(1).expand({G, E, S}).gather(2, chosen);
  return flatten_slots(problem, chosen, weight);
}

}  // namespace smx::routing
