#include "smx/bench/precision.h"

#include <fstream>

#include <ATen/autocast_mode.h>

#include "smx/core/error.h"
#include "smx/core/torch_compat.h"

namespace smx::bench {

Precision parse_precision(const std::string& text) {
  if (text == "fp32") return Precision::kFp32;
  if (text == "bf16") return Precision::kBf16;
  fail("--dtype: unknown precision '{}'; use fp32 or bf16", text);
}

std::string to_string(Precision precision) {
  return precision == Precision::kBf16 ? "bf16" : "fp32";
}

at::ScalarType scalar_type(Precision precision) {
  return precision == Precision::kBf16 ? at::kBFloat16 : at::kFloat;
}

bool cpu_has_avx512_bf16() {
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string word;
  while (cpuinfo >> word)
    if (word == "avx512_bf16") return true;
  return false;
}

PrecisionScope::PrecisionScope(Precision precision, c10::DeviceType device)
    : enabled_(precision == Precision::kBf16), device_(device) {
  if (!enabled_) return;
  was_enabled_ = compat::autocast_enabled(device_);
  previous_dtype_ = compat::autocast_dtype(device_);
  compat::set_autocast_dtype(device_, at::kBFloat16);
  compat::set_autocast_enabled(device_, true);
}

PrecisionScope::~PrecisionScope() {
  if (!enabled_) return;
  compat::set_autocast_enabled(device_, was_enabled_);
  compat::set_autocast_dtype(device_, previous_dtype_);
}

void clear_cast_cache() {
  at::autocast::clear_cache();
}

}  // namespace smx::bench
