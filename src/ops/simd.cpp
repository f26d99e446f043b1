#include "simd.h"

#include <atomic>

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

namespace {
bool cpu_supports_avx512_bf16() {
#if SMX_HAVE_AVX512_BF16
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512bf16");
#else
  return false;  // this compiler cannot build the conversion
#endif
}
}  // namespace

namespace detail {
std::atomic<bool> hardware_bf16_store{cpu_supports_avx512_bf16()};
}  // namespace detail

bool cpu_has_avx512_bf16() {
  return cpu_has_avx512() && detail::hardware_bf16_store.load(std::memory_order_relaxed);
}

void allow_avx512_bf16(bool allowed) {
  static const bool supported = cpu_supports_avx512_bf16();
  detail::hardware_bf16_store.store(allowed && supported, std::memory_order_relaxed);
}

}  // namespace smx::ops::simd
