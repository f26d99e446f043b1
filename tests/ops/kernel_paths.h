// The two code paths of every fused kernel: AVX-512 (where the CPU has it) and the scalar loop
// that CPUs without it run. Kernel tests run their checks once per path.
#pragma once

#include <string>
#include <vector>

#include "ops/simd.h"

namespace smx::testing {

struct KernelPath {
  std::string name;
  bool avx512;
};

inline std::vector<KernelPath> kernel_paths() {
  std::vector<KernelPath> paths = {{"scalar", false}};
  ops::simd::allow_avx512(true);
  if (ops::simd::cpu_has_avx512()) paths.push_back({"avx512", true});
  return paths;
}

// Selects a path for the current scope; back to AVX-512 (when available) on exit.
class UseKernelPath {
 public:
  explicit UseKernelPath(const KernelPath& path) { ops::simd::allow_avx512(path.avx512); }
  ~UseKernelPath() { ops::simd::allow_avx512(true); }
};

}  // namespace smx::testing
