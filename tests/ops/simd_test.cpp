// The AVX-512 bf16 store (src/ops/simd.h) against c10::BFloat16's round-to-nearest-even, with the
// software rounding and with the AVX512-BF16 conversion: the same bits for normal numbers, ties,
// infinities and zeros, a quiet NaN for a NaN; only fp32 subnormals may differ (the instruction
// flushes them to zero).
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "ops/kernel_paths.h"
#include "ops/simd.h"

namespace smx::ops {
namespace {

uint16_t bits(c10::BFloat16 b) {
  return b.x;
}

// n (a multiple of 16) floats through simd::load and simd::store (compiled for AVX-512, as the
// kernels are: the vector types never cross a function boundary without it).
SMX_AVX512 void store_all(const float* in, c10::BFloat16* out, size_t n) {
  for (size_t i = 0; i < n; i += 16) simd::store(out + i, simd::load(in + i));
}

TEST(SimdTest, Bf16StoreRoundsLikeC10OnEveryAvx512Path) {
  std::vector<float> values = {0.0f,
                               -0.0f,
                               1.0f,
                               -2.5f,
                               std::numeric_limits<float>::infinity(),
                               -std::numeric_limits<float>::infinity(),
                               std::numeric_limits<float>::max(),
                               std::numeric_limits<float>::min(),  // smallest normal
                               65504.0f};
  // Exact ties between two bf16 values (low 16 bits 0x8000), odd and even upper halves.
  for (const uint32_t upper : {0x3F80u, 0x3F81u, 0xC2F7u, 0x7F7Eu}) {
    const uint32_t u = (upper << 16) | 0x8000u;
    float f;
    std::memcpy(&f, &u, sizeof f);
    values.push_back(f);
  }
  const at::Tensor random = torch::randn({4096}) * torch::exp(torch::randn({4096}) * 8);
  for (int64_t i = 0; i < random.numel(); ++i) values.push_back(random[i].item<float>());
  while (values.size() % 16) values.push_back(0.5f);

  int paths = 0;
  for (const auto& path : testing::kernel_paths()) {
    if (!path.avx512) continue;
    testing::UseKernelPath use(path);
    ++paths;
    std::vector<c10::BFloat16> out(values.size());
    store_all(values.data(), out.data(), values.size());
    int64_t differing = 0;
    for (size_t i = 0; i < values.size(); ++i)
      differing += bits(out[i]) != bits(c10::BFloat16(values[i]));
    std::printf("    %-8s %zu values, %lld differ from c10::BFloat16\n", path.name.c_str(),
                values.size(), static_cast<long long>(differing));
    EXPECT_EQ(differing, 0) << path.name;

    const float nan = std::numeric_limits<float>::quiet_NaN();
    std::vector<float> nans(16, nan);
    store_all(nans.data(), out.data(), nans.size());
    EXPECT_TRUE(std::isnan(static_cast<float>(out[0]))) << path.name;
  }
  if (paths == 0) GTEST_SKIP() << "no AVX-512 on this CPU";
}

}  // namespace
}  // namespace smx::ops
