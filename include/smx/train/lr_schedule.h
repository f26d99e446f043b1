// Learning rate of docs/design.md §5: linear warmup from 0 over W steps, then linear decay to 0 at
// S steps.
//   lr(s) = base · min(1, s / W) · (1 - max(0, s - W) / (S - W))
#pragma once

#include <algorithm>
#include <cstdint>

namespace smx::train {

inline double learning_rate(double base, int64_t step, int64_t warmup, int64_t total) {
  const double s = static_cast<double>(step);
  const double warm = warmup > 0 ? std::min(1.0, s / static_cast<double>(warmup)) : 1.0;
  const double decay_steps = static_cast<double>(std::max<int64_t>(1, total - warmup));
  const double decay = 1.0 - std::max(0.0, s - static_cast<double>(warmup)) / decay_steps;
  return base * warm * std::max(0.0, decay);
}

}  // namespace smx::train
