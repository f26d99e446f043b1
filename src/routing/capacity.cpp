#include "smx/routing/capacity.h"

#include <algorithm>
#include <cfenv>
#include <cmath>

#include "smx/core/error.h"

namespace smx::routing {

int64_t num_groups(int64_t num_tokens, int64_t max_group_size) {
  if (num_tokens < 1 || max_group_size < 1)
    fail("num_groups: need at least one token and a group size >= 1 (got {} tokens, size {})",
         num_tokens, max_group_size);
  int64_t groups = std::max<int64_t>(1, num_tokens / max_group_size);
  while (num_tokens % groups != 0) ++groups;
  return groups;
}

int64_t expert_capacity(double capacity_factor, int64_t tokens_per_group, int64_t num_experts,
                        int64_t min_capacity) {
  // Python's round(): halves go to the even neighbour, which is nearbyint's default mode.
  const double raw =
      capacity_factor * static_cast<double>(tokens_per_group) / static_cast<double>(num_experts);
  const int saved = std::fegetround();
  std::fesetround(FE_TONEAREST);
  const auto rounded = static_cast<int64_t>(std::nearbyint(raw));
  std::fesetround(saved);
  return std::max(min_capacity, rounded);
}

}  // namespace smx::routing
