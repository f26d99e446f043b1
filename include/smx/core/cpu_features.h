// What this CPU can run, probed once per process.
#pragma once

namespace smx {

// AVX512-BF16: native bf16 dot products (oneDNN's bf16 GEMMs) and the fp32 -> bf16 conversion
// the fused kernels store with (src/ops/simd.h).
bool cpu_supports_avx512_bf16();

}  // namespace smx
