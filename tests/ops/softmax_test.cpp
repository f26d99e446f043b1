// softmax_last_dim against fp64 ATen softmax, values and gradients, fp32 and bf16, row lengths
// with a vector tail, and rows of equal (masked) logits; softmax_dropout_last_dim against the
// same with the [R, K] mask it says it draws; rows of the op table (op_table.h) on both kernel
// paths.
#include <limits>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "ops/op_table.h"
#include "smx/ops/softmax.h"

namespace smx::ops {
namespace {

using smx::testing::OpOutput;
using smx::testing::Pass;

// Softmax over rows of K logits, values and the gradient of sum(p · w).
smx::testing::OpCase softmax_case(at::ScalarType dtype, int64_t K) {
  const bool bf16 = dtype == at::kBFloat16;
  return {"softmax_last_dim", dtype, fmt::format("[2, 3, 5, {}]", K), [=] {
            const at::Tensor x = (torch::randn({2, 3, 5, K}) * 4).to(dtype).requires_grad_(true);
            const at::Tensor w = torch::randn({2, 3, 5, K});
            const at::Tensor x64 = smx::testing::fp64_leaf(x);
            const at::Tensor ref = at::softmax(x64, -1);
            (ref * w.to(at::kDouble)).sum().backward();
            const at::Tensor y = softmax_last_dim(x);
            EXPECT_EQ(y.scalar_type(), dtype);
            (y.to(at::kFloat) * w).sum().backward();
            return std::vector<OpOutput>{
                {"p", Pass::kForward, y, ref, bf16 ? 4e-3 : 1e-6},
                {"dx", Pass::kBackward, x.grad(), x64.grad(), bf16 ? 3e-2 : 3e-6}};
          }};
}

TEST(SoftmaxTest, MatchesFp64SoftmaxWithGradients) {
  std::vector<smx::testing::OpCase> cases;
  for (const auto dtype : {at::kFloat, at::kBFloat16})
    for (const int64_t K : {7, 16, 100, 512}) cases.push_back(softmax_case(dtype, K));
  smx::testing::run_op_table(cases, 1);
}

// Softmax then dropout, one [5, K] mask for all 2·3 leading indices: values and the gradient of
// sum(y · w) against fp64 softmax times the mask dropout_keep_mask reports.
smx::testing::OpCase dropout_case(at::ScalarType dtype, int64_t K) {
  const bool bf16 = dtype == at::kBFloat16;
  return {"softmax_dropout_last_dim", dtype, fmt::format("[2, 3, 5, {}] dropout 0.3", K), [=] {
            const FusedDropout dropout{0.3, 0x0123456789abcdefULL};
            const at::Tensor x = (torch::randn({2, 3, 5, K}) * 4).to(dtype).requires_grad_(true);
            const at::Tensor w = torch::randn({2, 3, 5, K});
            const at::Tensor keep =
                dropout_keep_mask(dropout, 5 * K).view({5, K}).to(at::kDouble) / 0.7;
            const at::Tensor x64 = smx::testing::fp64_leaf(x);
            const at::Tensor ref = at::softmax(x64, -1) * keep;
            (ref * w.to(at::kDouble)).sum().backward();
            const at::Tensor y = softmax_dropout_last_dim(x, dropout);
            EXPECT_EQ(y.scalar_type(), dtype);
            (y.to(at::kFloat) * w).sum().backward();
            return std::vector<OpOutput>{
                {"y", Pass::kForward, y, ref, bf16 ? 6e-3 : 1e-6},
                {"dx", Pass::kBackward, x.grad(), x64.grad(), bf16 ? 4e-2 : 4e-6}};
          }};
}

TEST(SoftmaxTest, DropoutMatchesFp64WithOneMaskForEveryLeadingIndex) {
  std::vector<smx::testing::OpCase> cases;
  for (const auto dtype : {at::kFloat, at::kBFloat16})
    for (const int64_t K : {7, 64}) cases.push_back(dropout_case(dtype, K));
  smx::testing::run_op_table(cases, 2);
}

TEST(SoftmaxTest, DropoutSharesItsZerosAcrossLeadingIndicesAndKeepsTheRate) {
  const at::Tensor x = torch::randn({4, 2, 64, 64});
  const at::Tensor y = softmax_dropout_last_dim(x, {0.25, 77});
  const at::Tensor dropped = y.eq(0);  // softmax never gives an exact 0 here
  for (int64_t i = 0; i < 4; ++i)
    for (int64_t h = 0; h < 2; ++h) EXPECT_TRUE(at::equal(dropped[i][h], dropped[0][0]));
  EXPECT_NEAR(dropped[0][0].to(at::kDouble).mean().item<double>(), 0.25, 0.03);
  // Rate 0 is the plain softmax.
  EXPECT_TRUE(at::equal(softmax_dropout_last_dim(x, {0.0, 77}), softmax_last_dim(x)));
}

TEST(SoftmaxTest, EqualLogitsGiveUniformRows) {
  // A fully masked attention row holds one value everywhere: it must attend uniformly, not NaN.
  smx::testing::run_op_table(
      {{"softmax_last_dim", at::kFloat, "lowest [2, 33]", [] {
          const at::Tensor x = torch::full({2, 33}, std::numeric_limits<float>::lowest());
          return std::vector<OpOutput>{
              {"p", Pass::kForward, softmax_last_dim(x), torch::full({2, 33}, 1.0 / 33), 1e-7}};
        }}});
}

}  // namespace
}  // namespace smx::ops
