#include "smx/core/autocast.h"

#include <ATen/autocast_mode.h>

#include "smx/core/torch_compat.h"

namespace smx {

AutocastScope::AutocastScope(bool enabled, const at::Device& device)
    : enabled_(enabled), cuda_(device.is_cuda()) {
  if (!enabled_) return;
  const c10::DeviceType type = cuda_ ? c10::DeviceType::CUDA : c10::DeviceType::CPU;
  compat::set_autocast_enabled(type, true);
  compat::set_autocast_dtype(type, at::kBFloat16);
}

AutocastScope::~AutocastScope() {
  if (!enabled_) return;
  compat::set_autocast_enabled(cuda_ ? c10::DeviceType::CUDA : c10::DeviceType::CPU, false);
  at::autocast::clear_cache();
}

}  // namespace smx
