// The fused kernels split their work with at::parallel_for, a header template that runs serially
// in code compiled without the OpenMP that LibTorch was built with (CMakeLists.txt): with two
// intra-op threads, a loop of many grains must run on both.
#include <atomic>
#include <cstdio>

#include <ATen/Parallel.h>
#include <gtest/gtest.h>

namespace smx::ops {
namespace {

TEST(ParallelForTest, KernelLoopsRunOnTheIntraOpThreads) {
  const int before = at::get_num_threads();
  at::set_num_threads(2);
  std::atomic<int> mask{0};
  at::parallel_for(0, 1024, 1, [&](int64_t, int64_t) { mask |= 1 << at::get_thread_num(); });
  at::set_num_threads(before);
  std::printf("    threads that ran a chunk: mask %d (want 3)\n", mask.load());
  EXPECT_EQ(mask.load(), 3) << "at::parallel_for ran serially: is the library built with OpenMP?";
}

}  // namespace
}  // namespace smx::ops
