#include "smx/core/autocast.h"

#include <ATen/autocast_mode.h>

#include "smx/core/torch_compat.h"

namespace smx {

AutocastScope::AutocastScope(bool enabled, const at::Device& device, AutocastCache cache)
    : enabled_(enabled),
      type_(device.is_cuda() ? c10::DeviceType::CUDA : c10::DeviceType::CPU),
      cache_(cache) {
  if (!enabled_) return;
  was_enabled_ = compat::autocast_enabled(type_);
  previous_dtype_ = compat::autocast_dtype(type_);
  compat::set_autocast_enabled(type_, true);
  compat::set_autocast_dtype(type_, at::kBFloat16);
}

AutocastScope::~AutocastScope() {
  if (!enabled_) return;
  compat::set_autocast_enabled(type_, was_enabled_);
  compat::set_autocast_dtype(type_, previous_dtype_);
  if (cache_ == AutocastCache::kClear) at::autocast::clear_cache();
}

void clear_autocast_cache() {
  at::autocast::clear_cache();
}

}  // namespace smx
