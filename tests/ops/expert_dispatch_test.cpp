// dispatch_tokens / combine_slots against ATen's index_select / index_add (fp64), with tokens in
// several slots, tokens in none, fp32 and bf16 buffers, and the gradients of tokens, expert
// outputs and combine weights; rows of the op table (op_table.h) on both kernel paths.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "ops/op_table.h"
#include "smx/ops/expert_dispatch.h"

namespace smx::ops {
namespace {

using smx::testing::fp64_leaf;
using smx::testing::OpOutput;
using smx::testing::Pass;

// Tokens [T, D] into S slots and back, through a fixed elementwise "expert".
smx::testing::OpCase dispatch_case(at::ScalarType dtype) {
  const int64_t T = 40, D = 37, S = 64;  // more slots than tokens: repeats; some tokens unrouted
  const bool bf16 = dtype == at::kBFloat16;
  return {"dispatch+combine", dtype, fmt::format("[{}, {}] -> {} slots", T, D, S), [=] {
            const at::Tensor index = torch::randint(0, T - 5, {S}, torch::kLong);
            const SlotIndex si = make_slot_index(index, T);
            // Tokens no slot names get no slot: T-5 .. T-1 here.
            EXPECT_EQ(si.offsets[T].item<int64_t>(), S);
            EXPECT_EQ(si.offsets[T - 1].item<int64_t>(), S);
            const at::Tensor tokens = torch::randn({T, D}).requires_grad_(true);
            const at::Tensor weight = torch::rand({S}).requires_grad_(true);
            const at::Tensor w_out = torch::randn({T, D});
            auto experts = [](const at::Tensor& b) { return b * 1.5 + b.square(); };

            const at::Tensor t64 = fp64_leaf(tokens), w64 = fp64_leaf(weight);
            const at::Tensor buffer64 = t64.index_select(0, index);
            const at::Tensor ref = torch::zeros({T, D}, torch::kDouble)
                                       .index_add(0, index, experts(buffer64) * w64.unsqueeze(1));
            (ref * w_out.to(at::kDouble)).sum().backward();

            const at::Tensor buffer = dispatch_tokens(tokens, si, dtype);
            EXPECT_EQ(buffer.scalar_type(), dtype);
            const at::Tensor out = combine_slots(experts(buffer), weight, si);
            EXPECT_EQ(out.scalar_type(), at::kFloat);
            (out * w_out).sum().backward();
            return std::vector<OpOutput>{
                {"dispatch", Pass::kForward, buffer, buffer64, bf16 ? 3e-2 : 0},
                {"combine", Pass::kForward, out, ref, bf16 ? 0.3 : 1e-5},
                {"dtokens", Pass::kBackward, tokens.grad(), t64.grad(), bf16 ? 0.3 : 1e-5},
                {"dweight", Pass::kBackward, weight.grad(), w64.grad(), bf16 ? 1.0 : 1e-4}};
          }};
}

TEST(ExpertDispatchTest, MatchesIndexSelectAndIndexAddWithGradients) {
  smx::testing::run_op_table({dispatch_case(at::kFloat), dispatch_case(at::kBFloat16)}, 5);
}

TEST(ExpertDispatchTest, RejectsAnIndexOutsideTheTokens) {
  EXPECT_THROW(make_slot_index(torch::tensor({0, 3}, torch::kLong), 3), c10::Error);
}

}  // namespace
}  // namespace smx::ops
