// Resident-memory probes for the bench: the current RSS and the RSS high-water mark, with a reset
// so that one phase's peak can be measured inside a long-running process (Linux /proc).
#pragma once

#include <cstdint>

namespace smx::bench {

int64_t current_rss_bytes();  // VmRSS, or 0 where /proc is unavailable
int64_t peak_rss_bytes();     // VmHWM, else getrusage's ru_maxrss

// Returns freed heap pages to the OS (malloc_trim) and resets VmHWM to the current RSS
// (/proc/self/clear_refs "5"). False when the reset is not possible: peaks are then process-wide.
bool reset_peak_rss();

}  // namespace smx::bench
