#include "smx/core/cpu_features.h"

#include <fstream>
#include <string>

namespace smx {
namespace {

bool probe_avx512_bf16() {
#if defined(__clang__) || (defined(__GNUC__) && __GNUC__ >= 10)
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512bf16");
#else  // compilers that cannot name the feature: the kernel's flag list
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string word;
  while (cpuinfo >> word)
    if (word == "avx512_bf16") return true;
  return false;
#endif
}

}  // namespace

bool cpu_supports_avx512_bf16() {
  static const bool yes = probe_avx512_bf16();
  return yes;
}

}  // namespace smx
