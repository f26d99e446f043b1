// Compute precision of a bench run. fp32 is the model's own path. bf16 is autocast (docs/design.md
// §7.5, smx::AutocastScope): GEMMs (linear/matmul/bmm/baddbmm/addmm) run in bf16 with fp32 master
// weights, while the router (MoeLayer disables autocast around it), softmax of the router and the
// losses stay fp32.
#pragma once

#include <string>

#include <torch/types.h>

namespace smx::bench {

enum class Precision { kFp32, kBf16 };

Precision parse_precision(const std::string& text);  // "fp32" | "bf16"
std::string to_string(Precision precision);
at::ScalarType scalar_type(Precision precision);

}  // namespace smx::bench
