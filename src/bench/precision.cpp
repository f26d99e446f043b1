#include "smx/bench/precision.h"

#include "smx/core/error.h"

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

}  // namespace smx::bench
