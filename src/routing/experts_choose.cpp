#include "smx/routing/experts_choose.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include <ATen/Parallel.h>
#include <torch/torch.h>

namespace smx::routing {

at::Tensor stable_top_indices(const at::Tensor& scores, int64_t C) {
  const int64_t S = scores.size(-1);
  TORCH_CHECK(C >= 0 && C <= S, "stable_top_indices: C = ", C, " outside [0, ", S, "]");
  if (!scores.device().is_cpu() || scores.scalar_type() != at::kFloat)
    return std::get<1>(at::sort(scores, /*stable=*/true, /*dim=*/-1, /*descending=*/true))
        .narrow(-1, 0, C)
        .contiguous();
  const at::Tensor x = scores.contiguous();
  std::vector<int64_t> out_shape(x.sizes().begin(), x.sizes().end());
  out_shape.back() = C;
  at::Tensor out = at::empty(out_shape, x.options().dtype(at::kLong));
  const int64_t rows = S == 0 ? 0 : x.numel() / S;
  const float* xp = x.data_ptr<float>();
  int64_t* op = out.data_ptr<int64_t>();
  at::parallel_for(0, rows, 1, [&](int64_t begin, int64_t end) {
    std::vector<int64_t> idx(static_cast<size_t>(S));
    for (int64_t r = begin; r < end; ++r) {
      const float* row = xp + r * S;
      // NaN ranks below everything, so the order stays a strict weak one.
      const auto key = [row](int64_t i) { return std::isnan(row[i]) ? -INFINITY : row[i]; };
      std::iota(idx.begin(), idx.end(), int64_t{0});
      std::partial_sort(idx.begin(), idx.begin() + C, idx.end(), [&](int64_t a, int64_t b) {
        const float ka = key(a), kb = key(b);
        return ka > kb || (ka == kb && a < b);
      });
      std::copy(idx.begin(), idx.begin() + C, op + r * C);
    }
  });
  return out;
}

Dispatch experts_choose(const RoutingProblem& problem) {
  const at::Tensor& probs = problem.probs;  // [G, S, E]
  const int64_t G = probs.size(0), S = probs.size(1), E = probs.size(2);
  const int64_t C = problem.max_capacity;

  at::Tensor scores = probs.detach().permute({0, 2, 1});  // [G, E, S]
  if (problem.valid.defined())  // pads sort after every real token (probabilities are >= 0)
    scores = scores.masked_fill(problem.valid.logical_not().unsqueeze(1), -1.0);
  // Equal probabilities keep token order, so ties go to the lower index.
  const at::Tensor chosen = stable_top_indices(scores, C);  // [G, E, C]

  at::Tensor weight = probs.permute({0, 2, 1}).gather(2, chosen);  // [G, E, C], differentiable
  if (problem.valid.defined())
    weight = weight * problem.valid.unsqueeze(1).expand({G, E, S}).gather(2, chosen);
  return flatten_slots(problem, chosen, weight);
}

}  // namespace smx::routing
