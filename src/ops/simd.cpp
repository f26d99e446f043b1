#include "simd.h"

#include <atomic>

#include "smx/core/cpu_features.h"

namespace smx::ops::simd {
namespace {
std::atomic<bool> g_allowed{true};
}  // namespace

bool cpu_has_avx512() {
  static const bool yes = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
  }();
  return yes && g_allowed.load(std::memory_order_relaxed);
}

void allow_avx512(bool allowed) {
  g_allowed.store(allowed, std::memory_order_relaxed);
}

namespace detail {
// Compilers without the avx512bf16 target build the software rounding alone.
std::atomic<bool> hardware_bf16_store{SMX_HAVE_AVX512_BF16 && cpu_supports_avx512_bf16()};
}  // namespace detail

bool cpu_has_avx512_bf16() {
  return cpu_has_avx512() && detail::hardware_bf16_store.load(std::memory_order_relaxed);
}

void allow_avx512_bf16(bool allowed) {
  detail::hardware_bf16_store.store(allowed && SMX_HAVE_AVX512_BF16 && cpu_supports_avx512_bf16(),
                                    std::memory_order_relaxed);
}

}  // namespace smx::ops::simd
