// The fused fp32 AdamW pass against the same update written in fp64 ATen ops, over a length with
// a vector tail and several steps (bias corrections change every step); rows of the op table
// (op_table.h) on both kernel paths.
#include <cmath>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "ops/op_table.h"
#include "smx/ops/adamw_step.h"

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

}  // namespace
}  // namespace smx::ops
