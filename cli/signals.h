// SIGINT/SIGTERM/SIGHUP -> a flag long-running commands poll, so they can checkpoint and exit
// cleanly.
#pragma once

#include <atomic>

namespace smx::cli {

// Installs the handlers (once) and returns the flag they set.
const std::atomic<bool>& stop_requested();

}  // namespace smx::cli
