// The fused fp32 AdamW pass against the same update written in fp64 ATen ops, over a length with
// a vector tail and several steps (bias corrections change every step); rows of the op table
// (op_table.h) on both kernel paths.
#include <algorithm>
#include <cmath>
#include <cstdio>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "ops/op_table.h"
#include "smx/ops/adamw_step.h"
#include "smx/ops/fused_kernels.h"

namespace smx::ops {
namespace {

using smx::testing::OpOutput;
using smx::testing::Pass;

TEST(AdamWStepTest, FusedFp32PassMatchesTheFp64Formula) {
  const int64_t n = 100003;  // several parallel chunks and a tail of 3 lanes
  smx::testing::run_op_table(
      {{"adamw_step", at::kFloat, fmt::format("[{}] x 4 steps", n),
        [=] {
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
            adamw_step(p64, g.to(at::kDouble), m64, v64, c);  // the non-fp32 path: plain ATen ops
          }
          // An update, not a function with a backward: the rows are its forward pass.
          return std::vector<OpOutput>{{"m", Pass::kForward, m, m64, 1e-7},
                                       {"v", Pass::kForward, v, v64, 1e-8},
                                       {"p", Pass::kForward, p, p64, 1e-6}};
        }}},
      4);
}

// Mixed precision: a bf16 gradient gives exactly the update of the same values as fp32, and the
// bf16 copy written in the same pass equals p.to(bf16) bit for bit, on both kernel paths.
TEST(AdamWStepTest, Bf16GradientAndCopyMatchTheFp32Update) {
  const int64_t n = 70001;  // a tail of 1 lane
  for (const smx::testing::KernelPath& path : smx::testing::kernel_paths()) {
    smx::testing::UseKernelPath use(path);
    torch::manual_seed(11);
    at::Tensor p = torch::randn({n}), m = torch::zeros({n}), v = torch::zeros({n});
    at::Tensor p_ref = p.clone(), m_ref = m.clone(), v_ref = v.clone();
    at::Tensor copy = p.to(at::kBFloat16);
    AdamWCoefficients c;
    c.lr = 1e-3;
    c.weight_decay = 0.01;
    double copy_diff = 0, p_diff = 0, m_diff = 0, v_diff = 0;
    for (int step = 1; step <= 3; ++step) {
      const at::Tensor g = (torch::randn({n}) * 0.1).to(at::kBFloat16);
      c.correction1 = 1.0 - std::pow(c.beta1, step);
      c.correction2 = 1.0 - std::pow(c.beta2, step);
      adamw_step(p, g, m, v, c, copy);
      adamw_step(p_ref, g.to(at::kFloat), m_ref, v_ref, c);
      copy_diff = std::max(
          copy_diff,
          (copy.to(at::kFloat) - p.to(at::kBFloat16).to(at::kFloat)).abs().max().item<double>());
      p_diff = std::max(p_diff, (p - p_ref).abs().max().item<double>());
      m_diff = std::max(m_diff, (m - m_ref).abs().max().item<double>());
      v_diff = std::max(v_diff, (v - v_ref).abs().max().item<double>());
      EXPECT_TRUE(at::equal(copy, p.to(at::kBFloat16))) << path.name << " step " << step;
    }
    std::printf("    %-7s bf16 grad + copy vs fp32: max|diff| copy %.1e  p %.1e  m %.1e  v %.1e\n",
                path.name.c_str(), copy_diff, p_diff, m_diff, v_diff);
    EXPECT_TRUE(at::equal(p, p_ref)) << path.name;
    EXPECT_TRUE(at::equal(m, m_ref)) << path.name;
    EXPECT_TRUE(at::equal(v, v_ref)) << path.name;
  }
}

// The non-fast path (fused kernels off) writes the copy too.
TEST(AdamWStepTest, CopyIsWrittenOnTheAtenPath) {
  at::Tensor p = torch::randn({37}), m = torch::zeros({37}), v = torch::zeros({37});
  at::Tensor copy = torch::zeros({37}, at::kBFloat16);
  AdamWCoefficients c;
  c.lr = 1e-2;
  c.correction1 = 0.1;
  c.correction2 = 0.001;
  set_fused_kernels(false);
  adamw_step(p, torch::randn({37}).to(at::kBFloat16), m, v, c, copy);
  set_fused_kernels(true);
  EXPECT_TRUE(at::equal(copy, p.to(at::kBFloat16)));
}

}  // namespace
}  // namespace smx::ops
