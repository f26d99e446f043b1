#include "smx/bench/gemm_peak.h"

#include <algorithm>
#include <chrono>

#include <torch/torch.h>

namespace smx::bench {

GemmPeak measure_gemm_peak(Precision precision, int repeats) {
  GemmPeak peak;
  peak.precision = precision;
  torch::NoGradGuard no_grad;
  // Shapes of the models' own big GEMMs (tokens x width x width) and a plain square one.
  const std::vector<std::array<int64_t, 3>> shapes = {
      {4096, 3072, 768}, {4096, 2048, 512}, {2048, 2048, 2048}, {4096, 4096, 1024}};
  for (const auto& [m, n, k] : shapes) {
    const at::Tensor a = torch::randn({m, k}).to(scalar_type(precision));
    const at::Tensor b = torch::randn({k, n}).to(scalar_type(precision));
    at::matmul(a, b);  // warm-up: packing buffers, oneDNN primitive creation
    double best = 1e30;
    for (int r = 0; r < std::max(1, repeats); ++r) {
      const auto start = std::chrono::steady_clock::now();
      const at::Tensor c = at::matmul(a, b);
      const auto stop = std::chrono::steady_clock::now();
      best = std::min(best, std::chrono::duration<double>(stop - start).count());
    }
    GemmMeasurement g{m, n, k, 2.0 * m * n * k / best / 1e9};
    peak.sizes.push_back(g);
    peak.gflops = std::max(peak.gflops, g.best_gflops);
  }
  return peak;
}

}  // namespace smx::bench
