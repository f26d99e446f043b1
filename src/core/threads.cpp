#include "smx/core/threads.h"

#include <algorithm>
#include <thread>

#include <ATen/Parallel.h>

namespace smx {

int configure_threads(int requested) {
  const int cores = std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  at::set_num_threads(requested > 0 ? requested : cores);
  return at::get_num_threads();
}

}  // namespace smx
