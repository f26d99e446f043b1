// dispatch_tokens / combine_slots against ATen's index_select / index_add (fp64), with tokens in
// several slots, tokens in none, fp32 and bf16 buffers, and the gradients of tokens, expert
// outputs and combine weights; combine with the experts' bias rows (the fused inference pass, and
// the differentiable fallback); rows of the op table (op_table.h) on both kernel paths.
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

// Expert outputs y [A·M, D] combined with each expert's bias row [A, D] added first.
smx::testing::OpCase combine_bias_case(at::ScalarType dtype) {
  const int64_t T = 30, D = 37, A = 8, M = 6, S = A * M;
  return {
      "combine+bias", dtype, fmt::format("{} experts x {} slots -> [{}, {}]", A, M, T, D), [=] {
        const at::Tensor index = torch::randint(0, T - 3, {S}, torch::kLong);
        const SlotIndex si = make_slot_index(index, T);
        const at::Tensor y = torch::randn({S, D}).to(dtype);
        const at::Tensor weight = torch::rand({S});
        const at::Tensor bias = torch::randn({A, D}).requires_grad_(true);
        const at::Tensor w_out = torch::randn({T, D});

        const at::Tensor b64 = fp64_leaf(bias);
        const at::Tensor y64 = (y.to(at::kDouble).view({A, M, D}) + b64.unsqueeze(1)).view({S, D});
        const at::Tensor ref = torch::zeros({T, D}, torch::kDouble)
                                   .index_add(0, index, y64 * weight.to(at::kDouble).unsqueeze(1));
        (ref * w_out.to(at::kDouble)).sum().backward();

        at::Tensor fused;  // the inference pass: bias added inside the combine kernel
        {
          torch::NoGradGuard no_grad;
          fused = combine_slots(y, weight, si, bias);
        }
        const at::Tensor out = combine_slots(y, weight, si, bias);  // differentiable
        (out * w_out).sum().backward();
        return std::vector<OpOutput>{// y is given in `dtype`; both sums run in fp32 whatever it is.
                                     {"fused", Pass::kForward, fused, ref, 1e-4},
                                     {"with grad", Pass::kForward, out, ref, 1e-4},
                                     {"dbias", Pass::kBackward, bias.grad(), b64.grad(), 1e-4}};
      }};
}

TEST(ExpertDispatchTest, MatchesIndexSelectAndIndexAddWithGradients) {
  smx::testing::run_op_table({dispatch_case(at::kFloat), dispatch_case(at::kBFloat16),
                              combine_bias_case(at::kFloat), combine_bias_case(at::kBFloat16)},
                             5);
}

TEST(ExpertDispatchTest, CombineRejectsBiasRowsThatDoNotDivideTheSlots) {
  const SlotIndex si = make_slot_index(torch::tensor({0, 1, 2, 0, 1, 2}, torch::kLong), 3);
  const at::Tensor y = torch::randn({6, 4}), weight = torch::rand({6});
  EXPECT_THROW(combine_slots(y, weight, si, torch::randn({4, 4})), c10::Error);  // 6 % 4 != 0
  EXPECT_THROW(combine_slots(y, weight, si, torch::randn({3, 5})), c10::Error);  // D mismatch
}

TEST(ExpertDispatchTest, RejectsAnIndexOutsideTheTokens) {
  EXPECT_THROW(make_slot_index(torch::tensor({0, 3}, torch::kLong), 3), c10::Error);
}

}  // namespace
}  // namespace smx::ops
