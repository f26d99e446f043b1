#include "smx/bench/stats.h"

#include <algorithm>

namespace smx::bench {

Stats summarize(const std::vector<double>& samples) {
  Stats s;
  s.samples = samples;
  if (samples.empty()) return s;
  std::vector<double> sorted = samples;
  std::sort(sorted.begin(), sorted.end());
  const size_t n = sorted.size();
  s.median = n % 2 == 1 ? sorted[n / 2] : 0.5 * (sorted[n / 2 - 1] + sorted[n / 2]);
  s.min = sorted.front();
  s.max = sorted.back();
  return s;
}

}  // namespace smx::bench
