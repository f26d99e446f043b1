// cross_entropy against the fp64 composition log_softmax + gather: the per-row loss, the logits'
// gradient through autograd and the top-1 flags, fp32 and bf16 logits, widths with a vector tail
// and an MLM-sized vocabulary; rows of the op table (op_table.h) on both kernel paths.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "ops/op_table.h"
#include "smx/core/shape.h"
#include "smx/ops/cross_entropy.h"
#include "support/test_util.h"

namespace smx::ops {
namespace {

using smx::testing::OpOutput;
using smx::testing::Pass;

smx::testing::OpCase ce_case(int64_t R, int64_t V, at::ScalarType dtype, double tol) {
  return {"cross_entropy", dtype, fmt::format("[{}, {}]", R, V), [=] {
            const at::Tensor x = (torch::randn({R, V}) * 3).to(dtype).requires_grad_(true);
            at::Tensor labels = torch::randint(0, V, {R});
            labels[0] = x[0].argmax().item<int64_t>();  // at least one row right
            const at::Tensor w = torch::rand({R});
            const at::Tensor x64 = smx::testing::fp64_leaf(x);
            const at::Tensor ref = -x64.log_softmax(-1).gather(1, labels.unsqueeze(1)).squeeze(1);
            (ref * w.to(at::kDouble)).sum().backward();
            const at::Tensor want_top1 = x64.argmax(-1).eq(labels);

            const CrossEntropy got = cross_entropy(x, labels);
            EXPECT_EQ(got.loss.scalar_type(), at::kFloat);
            (got.loss * w).sum().backward();
            EXPECT_EQ(x.grad().scalar_type(), dtype);
            EXPECT_TRUE(at::equal(got.top1, want_top1)) << "top-1 flags";
            return std::vector<OpOutput>{
                {"loss", Pass::kForward, got.loss, ref.detach(), tol},
                {"dx", Pass::kBackward, x.grad(), x64.grad(), dtype == at::kFloat ? 1e-6 : 4e-3}};
          }};
}

TEST(CrossEntropyTest, MatchesTheFp64ReferenceWithGradients) {
  smx::testing::run_op_table({
      ce_case(6, 37, at::kFloat, 2e-6),        // a tail of 5 lanes
      ce_case(4, 3000, at::kFloat, 2e-6),      // several 1024-logit blocks
      ce_case(5, 37, at::kBFloat16, 2e-6),     // bf16 logits are exact inputs: fp32 math
      ce_case(3, 32000, at::kBFloat16, 5e-6),  // the MLM head's width
  });
}

TEST(CrossEntropyTest, BadShapesAndLabelsAreErrors) {
  const at::Tensor x = torch::randn({3, 5});
  const auto error = [&](const at::Tensor& logits, const at::Tensor& labels) {
    return smx::testing::error_of([&] { cross_entropy(logits, labels); });
  };
  EXPECT_NE(error(x, torch::tensor({0, 1, 5})).find("outside [0, 5)"), std::string::npos);
  EXPECT_NE(error(x, torch::tensor({0, -1, 2})).find("outside [0, 5)"), std::string::npos);
  EXPECT_NE(error(x, torch::tensor({0, 1})).find("[R, V]"), std::string::npos);
  EXPECT_NE(error(x, torch::tensor({0.0, 1.0, 2.0})).find("int64"), std::string::npos);
}

}  // namespace
}  // namespace smx::ops
