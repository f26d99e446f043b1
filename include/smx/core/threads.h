// Intra-op thread count for every command that runs a model.
#pragma once

namespace smx {

// Uses `requested` threads, or every logical core when 0: LibTorch's own default counts physical
// cores, which reads 1 on 2-vCPU machines. OpenBLAS's OpenMP build shares this pool. Returns the
// count in effect.
int configure_threads(int requested);

}  // namespace smx
