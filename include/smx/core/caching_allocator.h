// A caching CPU allocator for LibTorch: large blocks (>= 1 MiB) are kept on free and handed out
// again for the next request of the same rounded size, as the CUDA caching allocator does.
// Training and inference steps repeat the same activation sizes, so after the first step nearly
// every large allocation is a cache hit: no mmap/munmap, no page faults, no zeroing by the kernel
// (glibc serves blocks above 32 MiB with a fresh mmap every time). Small blocks go to c10 as usual.
#pragma once

#include <cstdint>

namespace smx {

// Installs the allocator as LibTorch's CPU allocator (idempotent). `cache_limit_bytes` bounds the
// idle cached bytes (0 = a quarter of physical memory); past it, freed blocks go back to the OS.
void enable_caching_cpu_allocator(int64_t cache_limit_bytes = 0);

// Frees every idle cached block (e.g. before measuring a resident-memory high-water mark).
void release_cached_cpu_memory();

struct CachingAllocatorStats {
  int64_t cached_bytes = 0;  // idle, kept for reuse
  int64_t hits = 0, misses = 0;
};
CachingAllocatorStats caching_allocator_stats();

}  // namespace smx
