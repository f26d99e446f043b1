#include "smx/core/torch_compat.h"

#include <ATen/autocast_mode.h>

#include "smx/core/error.h"

namespace smx::compat {
namespace {

void check_autocast_device(c10::DeviceType device) {
  if (device != c10::DeviceType::CPU && device != c10::DeviceType::CUDA)
    fail("autocast: device type {} is not supported by smx (cpu or cuda)",
         c10::DeviceTypeName(device));
}

}  // namespace

#if SMX_TORCH_AT_LEAST(2, 4)

bool autocast_enabled(c10::DeviceType device) {
  check_autocast_device(device);
  return at::autocast::is_autocast_enabled(device);
}
void set_autocast_enabled(c10::DeviceType device, bool enabled) {
  check_autocast_device(device);
  at::autocast::set_autocast_enabled(device, enabled);
}
at::ScalarType autocast_dtype(c10::DeviceType device) {
  check_autocast_device(device);
  return at::autocast::get_autocast_dtype(device);
}
void set_autocast_dtype(c10::DeviceType device, at::ScalarType dtype) {
  check_autocast_device(device);
  at::autocast::set_autocast_dtype(device, dtype);
}

#else

bool autocast_enabled(c10::DeviceType device) {
  check_autocast_device(device);
  return device == c10::DeviceType::CPU ? at::autocast::is_cpu_enabled()
                                        : at::autocast::is_enabled();
}
void set_autocast_enabled(c10::DeviceType device, bool enabled) {
  check_autocast_device(device);
  if (device == c10::DeviceType::CPU)
    at::autocast::set_cpu_enabled(enabled);
  else
    at::autocast::set_enabled(enabled);
}
at::ScalarType autocast_dtype(c10::DeviceType device) {
  check_autocast_device(device);
  return device == c10::DeviceType::CPU ? at::autocast::get_autocast_cpu_dtype()
                                        : at::autocast::get_autocast_gpu_dtype();
}
void set_autocast_dtype(c10::DeviceType device, at::ScalarType dtype) {
  check_autocast_device(device);
  if (device == c10::DeviceType::CPU)
    at::autocast::set_autocast_cpu_dtype(dtype);
  else
    at::autocast::set_autocast_gpu_dtype(dtype);
}

#endif

const char* torch_version() {
  return TORCH_VERSION;
}

}  // namespace smx::compat
