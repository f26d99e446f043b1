// ops::dropout: the counter-based mask (ops/dropout.h) against x · keep / (1 - rate) in fp64 with
// the mask dropout_keep_mask says it draws, values and gradients, fp32 and bf16, on both kernel
// paths (rows of the op table, op_table.h); the mask's rate, its dependence on the seed only, and
// the model's dropout following the run's generator.
#include <cstdio>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "ops/op_table.h"
#include "smx/core/shape.h"
#include "smx/model/dropout.h"
#include "smx/ops/dropout.h"
#include "support/test_util.h"

namespace smx::ops {
namespace {

using smx::testing::OpOutput;
using smx::testing::Pass;

smx::testing::OpCase dropout_case(std::vector<int64_t> shape, at::ScalarType dtype, double rate) {
  return {"dropout", dtype, fmt::format("{} rate {}", shape_string(shape), rate), [=] {
            const FusedDropout d{rate, 0xfeedbeef12345ULL};
            const at::Tensor x = torch::randn(shape).to(dtype).requires_grad_(true);
            const at::Tensor w = torch::randn(shape).to(dtype);
            const at::Tensor x64 = smx::testing::fp64_leaf(x);
            const at::Tensor keep =
                dropout_keep_mask(d, x.numel()).view(x.sizes()).to(at::kDouble) / (1.0 - rate);
            (x64 * keep * w.to(at::kDouble)).sum().backward();
            const at::Tensor ref = (x64 * keep).detach();

            const at::Tensor y = ops::dropout(x, d);
            EXPECT_EQ(y.scalar_type(), dtype);
            (y * w).sum().backward();
            // bf16: one rounding of values up to ~|x| / (1 - rate)
            const double tol = dtype == at::kBFloat16 ? 4e-2 : 1e-6;
            return std::vector<OpOutput>{{"y", Pass::kForward, y, ref, tol},
                                         {"dx", Pass::kBackward, x.grad(), x64.grad(), tol}};
          }};
}

TEST(DropoutTest, MatchesTheMaskItDrawsWithGradients) {
  smx::testing::run_op_table({
      dropout_case({37}, at::kFloat, 0.1),            // one vector and a tail
      dropout_case({3, 70000}, at::kFloat, 0.25),     // several parallel tasks of 64 Ki
      dropout_case({5, 33, 24}, at::kBFloat16, 0.1),  // bf16 in and out
      dropout_case({2, 70001}, at::kBFloat16, 0.5),   // tasks and a tail
  });
}

TEST(DropoutTest, MaskKeepsOneMinusRateAndFollowsTheSeedOnly) {
  const int64_t n = 400000;
  for (const double rate : {0.1, 0.5}) {
    const at::Tensor a = dropout_keep_mask({rate, 42}, n);
    const double kept = a.to(at::kDouble).mean().item<double>();
    std::printf("    rate %.1f over %ld elements: kept %.4f (want %.1f +- 0.004)\n", rate,
                static_cast<long>(n), kept, 1 - rate);
    EXPECT_NEAR(kept, 1 - rate, 0.004);
    EXPECT_TRUE(at::equal(a, dropout_keep_mask({rate, 42}, n)));  // reproducible
    // Another seed (also one differing only in its high half): an independent mask, which
    // agrees with this one on (1-r)^2 + r^2 of the elements.
    for (const uint64_t other : {uint64_t{43}, uint64_t{42} | (uint64_t{1} << 40)}) {
      const double same =
          a.eq(dropout_keep_mask({rate, other}, n)).to(at::kDouble).mean().item<double>();
      EXPECT_NEAR(same, (1 - rate) * (1 - rate) + rate * rate, 0.005) << "seed " << other;
    }
  }
  // Neighbouring elements are independent: P(both kept) = (1 - r)^2.
  const at::Tensor k = dropout_keep_mask({0.5, 9}, n).to(at::kDouble);
  const double pairs = (k.slice(0, 0, n - 1) * k.slice(0, 1, n)).mean().item<double>();
  EXPECT_NEAR(pairs, 0.25, 0.004);
}

TEST(DropoutTest, RateZeroIsIdentityAndBadRatesAreErrors) {
  const at::Tensor x = torch::randn({4, 5});
  EXPECT_TRUE(ops::dropout(x, {0.0, 1}).is_same(x));
  for (const double bad : {-0.1, 1.0, 1.5}) {
    const std::string e = smx::testing::error_of([&] { ops::dropout(x, {bad, 1}); });
    EXPECT_NE(e.find("outside [0, 1)"), std::string::npos) << e;
  }
}

// The model's dropout draws its seed from the default generator: the same torch seed gives the
// same masks, another seed others; outside training it is the identity.
TEST(DropoutTest, ModelDropoutFollowsTheTorchSeed) {
  const at::Tensor x = torch::ones({8, 64}).to(at::kBFloat16);
  torch::manual_seed(3);
  const at::Tensor a = model::dropout(x, 0.3, true);
  torch::manual_seed(3);
  const at::Tensor b = model::dropout(x, 0.3, true);
  torch::manual_seed(4);
  const at::Tensor c = model::dropout(x, 0.3, true);
  EXPECT_TRUE(at::equal(a, b));
  EXPECT_FALSE(at::equal(a, c));
  EXPECT_TRUE(model::dropout(x, 0.3, false).is_same(x));
  EXPECT_EQ(model::fused_dropout_for(x, 0.3, false).rate, 0.0);
}

}  // namespace
}  // namespace smx::ops
