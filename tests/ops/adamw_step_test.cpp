// The fused fp32 AdamW pass against the same update written in fp64 ATen ops, over a length with
// a vector tail and several steps (bias corrections change every step).
#include <cmath>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "ops/kernel_paths.h"
#include "smx/ops/adamw_step.h"
#include "support/test_util.h"

namespace smx::ops {
namespace {

TEST(AdamWStepTest, FusedFp32PassMatchesTheFp64Formula) {
  for (const auto& path : smx::testing::kernel_paths()) {
    smx::testing::UseKernelPath use(path);
    std::printf("    -- %s path\n", path.name.c_str());
    torch::manual_seed(4);
    const int64_t n = 100003;  // several parallel chunks and a tail of 3 lanes
    at::Tensor p = torch::randn({n}), m = torch::zeros({n}), v = torch::zeros({n});
    at::Tensor p64 = p.to(at::kDouble), m64 = m.to(at::kDouble), v64 = v.to(at::kDouble);
    AdamWCoefficients c;
    c.lr = 1e-3;
    c.weight_decay = 0.01;
    for (int step = 1; step <= 4; ++step) {
      const at::Tensor g = torch::randn({n}) * 0.1;
      c.correction1 = 1.0 - std::pow(c.beta1, step);
      c.correction2 = 1.0 - std::pow(c.beta2, step);
      adamw_step(p, g, m, v, c);
      const at::Tensor g64 = g.to(at::kDouble);  // the non-fp32 path: plain ATen ops
      adamw_step(p64, g64, m64, v64, c);
    }
    smx::testing::expect_close(m.to(at::kDouble), m64, 1e-7, "adamw m after 4 steps");
    smx::testing::expect_close(v.to(at::kDouble), v64, 1e-8, "adamw v after 4 steps");
    smx::testing::expect_close(p.to(at::kDouble), p64, 1e-6, "adamw p after 4 steps");
    // 12 FLOPs per parameter (2 fma + mul for m, v; sqrt, add, div, fnmadd, mul for p).
    std::printf("    adamw_step: %ld parameters, %.2f MFLOP per step, 28 bytes moved each\n", n,
                12.0 * static_cast<double>(n) / 1e6);
  }
}

}  // namespace
}  // namespace smx::ops
