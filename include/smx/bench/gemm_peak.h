// This machine's GEMM throughput: large square-ish at::matmul in fp32 and bf16, best of a few sizes
// and repeats. The bench divides each model's achieved GFLOP/s by it ("fraction of peak").
#pragma once

#include <cstdint>
#include <vector>

#include "smx/bench/precision.h"

namespace smx::bench {

struct GemmMeasurement {
  int64_t m = 0, n = 0, k = 0;
  double best_gflops = 0;  // 2·m·n·k / best time
};

struct GemmPeak {
  Precision precision = Precision::kFp32;
  double gflops = 0;  // best over sizes
  std::vector<GemmMeasurement> sizes;
};

// Each size: one warm-up then `repeats` timed [m, k] x [k, n] products.
GemmPeak measure_gemm_peak(Precision precision, int repeats = 3);

}  // namespace smx::bench
