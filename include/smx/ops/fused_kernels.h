// A process-wide switch between smx's fused CPU kernels (the ops in this folder, the two-GEMM
// Linear mixing) and the plain ATen compositions they replace. On by default; off only to
// measure what the kernels buy in the same process (`smx bench --ablation fused`).
#pragma once

namespace smx::ops {

bool fused_kernels_enabled();
void set_fused_kernels(bool enabled);

}  // namespace smx::ops
