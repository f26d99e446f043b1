// The one place where smx meets LibTorch API differences between the versions it builds against:
// Debian 12's LibTorch 1.13 (CPU) and the LibTorch 2.x inside PyTorch wheels (CUDA), selected by
// TORCH_VERSION_MAJOR/MINOR. Call sites use these names, never a version test of their own.
//
//   autocast      2.4 replaced is_cpu_enabled()/set_cpu_enabled()/get_autocast_cpu_dtype()/
//                 set_autocast_{cpu,gpu}_dtype()/is_enabled()/set_enabled() (deprecated, a
//                 warning per call) by functions taking the device type.
//   Allocator     2.3 made c10::Allocator::allocate non-const (SMX_ALLOCATOR_ALLOCATE_CONST) and
//                 added the pure virtual copy_data (define it without `override`: it is just an
//                 extra member before).
//   c10d          2.0 split backends from c10d::ProcessGroup: ProcessGroupGloo/NCCL derive from
//                 c10d::Backend, which has the same collectives (compat::C10dBackend).
//   optional      c10::optional/c10::nullopt are aliases of std's since 2.4 and deprecated;
//                 compat::optional/compat::nullopt name whichever the version uses.
#pragma once

#include <optional>

#include <c10/core/DeviceType.h>
#include <c10/core/ScalarType.h>
#include <c10/util/Optional.h>
#include <torch/version.h>

// True when building against LibTorch major.minor or newer.
#define SMX_TORCH_AT_LEAST(major, minor) \
  (TORCH_VERSION_MAJOR > (major) ||      \
   (TORCH_VERSION_MAJOR == (major) && TORCH_VERSION_MINOR >= (minor)))

#if SMX_TORCH_AT_LEAST(2, 3)
#define SMX_ALLOCATOR_ALLOCATE_CONST
#else
#define SMX_ALLOCATOR_ALLOCATE_CONST const
#endif

namespace c10d {
class ProcessGroup;
#if SMX_TORCH_AT_LEAST(2, 0)
class Backend;
#endif
}  // namespace c10d

namespace smx::compat {

#if SMX_TORCH_AT_LEAST(2, 0)
using C10dBackend = ::c10d::Backend;  // what ProcessGroupGloo / ProcessGroupNCCL derive from
#else
using C10dBackend = ::c10d::ProcessGroup;
#endif

#if SMX_TORCH_AT_LEAST(2, 4)
template <typename T>
using optional = std::optional<T>;
inline constexpr std::nullopt_t nullopt = std::nullopt;
#else
template <typename T>
using optional = c10::optional<T>;
inline constexpr c10::nullopt_t nullopt = c10::nullopt;
#endif

// Autocast state of one device type (kCPU or kCUDA), on this thread (src/core/torch_compat.cpp).
bool autocast_enabled(c10::DeviceType device);
void set_autocast_enabled(c10::DeviceType device, bool enabled);
c10::ScalarType autocast_dtype(c10::DeviceType device);
void set_autocast_dtype(c10::DeviceType device, c10::ScalarType dtype);

// The LibTorch this was compiled against, "1.13.0" (TORCH_VERSION).
const char* torch_version();

}  // namespace smx::compat
