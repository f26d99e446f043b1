// The code paths of every fused kernel: the scalar loop that CPUs without AVX-512 run, AVX-512 with
// bf16 stores rounded in software, and AVX-512 with the AVX512-BF16 conversion (each where the
// CPU has it). Kernel tests run their checks once per path.
#pragma once

#include <string>
#include <vector>

#include "ops/simd.h"

namespace smx::testing {

struct KernelPath {
  std::string name;
  bool avx512;
  bool avx512_bf16;
};

inline std::vector<KernelPath> kernel_paths() {
  std::vector<KernelPath> paths = {{"scalar", false, false}};
  ops::simd::allow_avx512(true);
  ops::simd::allow_avx512_bf16(true);
  if (ops::simd::cpu_has_avx512()) paths.push_back({"avx512", true, false});
  if (ops::simd::cpu_has_avx512_bf16()) paths.push_back({"avx512bf", true, true});
  return paths;
}

// Selects a path for the current scope; back to the fastest the CPU has on exit.
class UseKernelPath {
 public:
  explicit UseKernelPath(const KernelPath& path) {
    ops::simd::allow_avx512(path.avx512);
    ops::simd::allow_avx512_bf16(path.avx512_bf16);
  }
  ~UseKernelPath() {
    ops::simd::allow_avx512(true);
    ops::simd::allow_avx512_bf16(true);
  }
};

}  // namespace smx::testing
