// Summary statistics of repeated timings: median with the min-max range (what every table prints).
#pragma once

#include <vector>

namespace smx::bench {

struct Stats {
  double median = 0;
  double min = 0;
  double max = 0;
  std::vector<double> samples;  // in measurement order
};

// Median (mean of the middle two for an even count), min and max; all zero for no samples.
Stats summarize(const std::vector<double>& samples);

}  // namespace smx::bench
