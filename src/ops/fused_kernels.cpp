#include "smx/ops/fused_kernels.h"

#include <atomic>

namespace smx::ops {
namespace {
std::atomic<bool> g_enabled{true};
}  // namespace

bool fused_kernels_enabled() {
  return g_enabled.load(std::memory_order_relaxed);
}

void set_fused_kernels(bool enabled) {
  g_enabled.store(enabled, std::memory_order_relaxed);
}

}  // namespace smx::ops
