#include "smx/routing/tokens_choose.h"

#include <torch/torch.h>

namespace smx::routing {

Dispatch tokens_choose(const RoutingProblem& problem, const TokensChooseOptions& options) {
  const at::Tensor& probs = problem.probs;  // [G, S, E]
  const int64_t G = probs.size(0), S = probs.size(1), E = probs.size(2);
  const int64_t k = options.num_selected_experts, C = problem.max_capacity;
  const auto long_options = probs.options().dtype(torch::kLong);

  // Top-k experts per token; stable so that equal gates prefer the lower expert index.
  auto [sorted_gates, sorted_experts] = at::sort(probs.detach(), true, -1, true);
  const at::Tensor gates = sorted_gates.narrow(2, 0, k);      // [G, S, k]
  const at::Tensor experts = sorted_experts.narrow(2, 0, k);  // [G, S, k]

  at::Tensor valid = problem.valid.defined()
                         ? problem.valid
                         : torch::ones({G, S}, probs.options().dtype(torch::kBool));
  const at::Tensor valid_f = valid.to(probs.scalar_type());      // [G, S]
  const at::Tensor count = valid_f.sum(1, true).clamp_min(1.0);  // [G, 1]

  // Load-balancing loss (docs/design.md §2.5), before any capacity drop: E^2 * mean_{g,e}(f * P̄).
  const at::Tensor chosen_any =
      torch::one_hot(experts, E).amax(2).to(probs.scalar_type());           // [G, S, E]
  const at::Tensor f = (chosen_any * valid_f.unsqueeze(2)).sum(1) / count;  // [G, E]
  const at::Tensor p_mean = (probs * valid_f.unsqueeze(2)).sum(1) / count;  // [G, E]
  const at::Tensor aux = (f * p_mean).mean() * static_cast<double>(E * E);

  // Assignment order: BPR visits tokens by descending top-1 gate, pads last.
  at::Tensor order;
  if (options.batch_prioritized_routing) {
    const at::Tensor key = gates.select(2, 0).masked_fill(valid.logical_not(), -1.0);
    order = std::get<1>(at::sort(key, true, 1, true));  // [G, S]
  } else {
    order = torch::arange(S, long_options).unsqueeze(0).expand({G, S});
  }
  // Sequence of assignments: every token's 1st choice in order, then every 2nd choice, ...
  const at::Tensor token_seq = order.unsqueeze(1).expand({G, k, S}).reshape({G, k * S});
  const at::Tensor expert_seq = experts.gather(1, order.unsqueeze(2).expand({G, S, k}))
                                    .permute({0, 2, 1})
                                    .reshape({G, k * S});
  const at::Tensor valid_seq = valid.gather(1, token_seq);  // [G, kS]

  // Position in the expert's buffer = number of earlier assignments to that expert.
  const at::Tensor one_hot = torch::one_hot(expert_seq, E) * valid_seq.unsqueeze(2);  // [G,kS,E]
  const at::Tensor position = (one_hot.cumsum(1) * one_hot).sum(2) - 1;               // [G, kS]
  const at::Tensor capacity = torch::tensor(problem.capacity, long_options).unsqueeze(1);  // [G, 1]
  const at::Tensor keep = valid_seq & position.ge(0) & position.lt(capacity);

  const at::Tensor kept = keep.nonzero();  // [K, 2]: (group, assignment)
  const at::Tensor g = kept.select(1, 0), a = kept.select(1, 1);
  const at::Tensor token = token_seq.index({g, a}), expert = expert_seq.index({g, a});
  const at::Tensor slot = (g * E + expert) * C + position.index({g, a});  // into [G * E * C]
  const at::Tensor prob = probs.reshape({G, S * E}).index({g, token * E + expert});

  const at::Tensor token_table =
      torch::zeros({G * E * C}, long_options).index_put({slot}, token).view({G, E, C});
  const at::Tensor weight_table =
      torch::zeros({G * E * C}, probs.options()).index_put({slot}, prob).view({G, E, C});
  Dispatch dispatch = flatten_slots(problem, token_table, weight_table);
  dispatch.aux_loss = aux;
  return dispatch;
}

}  // namespace smx::routing
