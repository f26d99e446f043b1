#include "smx/bench/memory.h"

#include <malloc.h>
#include <sys/resource.h>

#include <fstream>
#include <string>

namespace smx::bench {
namespace {

// A "Key:   1234 kB" line of /proc/self/status, in bytes; 0 when missing.
int64_t status_kb(const std::string& key) {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind(key + ":", 0) == 0) return std::stoll(line.substr(key.size() + 1)) * 1024;
  return 0;
}

}  // namespace

int64_t current_rss_bytes() {
  return status_kb("VmRSS");
}

int64_t peak_rss_bytes() {
  if (const int64_t hwm = status_kb("VmHWM"); hwm > 0) return hwm;
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<int64_t>(usage.ru_maxrss) * 1024;
}

bool reset_peak_rss() {
  malloc_trim(0);
  std::ofstream clear("/proc/self/clear_refs");
  if (!clear) return false;
  clear << "5";
  clear.flush();
  return static_cast<bool>(clear);
}

}  // namespace smx::bench
