// dispatch_tokens / combine_slots against ATen's index_select / index_add (fp64), with tokens in
// several slots, tokens in none, fp32 and bf16 buffers, and the gradients of tokens, expert
// outputs and combine weights.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "ops/kernel_paths.h"
#include "smx/ops/expert_dispatch.h"
#include "support/test_util.h"

namespace smx::ops {
namespace {

TEST(ExpertDispatchTest, MatchesIndexSelectAndIndexAddWithGradients) {
  for (const auto& path : smx::testing::kernel_paths()) {
    smx::testing::UseKernelPath use(path);
    std::printf("    -- %s path\n", path.name.c_str());
    torch::manual_seed(5);
    const int64_t T = 40, D = 37, S = 64;  // more slots than tokens: repeats; some tokens unrouted
    const at::Tensor index = torch::randint(0, T - 5, {S}, torch::kLong);
    const SlotIndex si = make_slot_index(index, T);
    for (const auto dtype : {at::kFloat, at::kBFloat16}) {
      const at::Tensor tokens = torch::randn({T, D}).requires_grad_(true);
      const at::Tensor weight = torch::rand({S}).requires_grad_(true);
      const at::Tensor w_out = torch::randn({T, D});
      // The experts: any differentiable map of the buffer; here a fixed elementwise one.
      auto experts = [](const at::Tensor& b) { return b * 1.5 + b.square(); };

      const at::Tensor t64 = tokens.to(at::kDouble).detach().requires_grad_(true);
      const at::Tensor w64 = weight.to(at::kDouble).detach().requires_grad_(true);
      const at::Tensor buffer64 = t64.index_select(0, index);
      const at::Tensor ref = torch::zeros({T, D}, torch::kDouble)
                                 .index_add(0, index, experts(buffer64) * w64.unsqueeze(1));
      (ref * w_out.to(at::kDouble)).sum().backward();

      const at::Tensor buffer = dispatch_tokens(tokens, si, dtype);
      EXPECT_EQ(buffer.scalar_type(), dtype);
      const at::Tensor out = combine_slots(experts(buffer), weight, si);
      EXPECT_EQ(out.scalar_type(), at::kFloat);
      (out * w_out).sum().backward();
      const bool bf16 = dtype == at::kBFloat16;
      const std::string label = fmt::format("{} buffer", c10::toString(dtype));
      smx::testing::expect_close(buffer.to(at::kDouble), buffer64, bf16 ? 3e-2 : 0,
                                 label + " dispatch");
      smx::testing::expect_close(out.to(at::kDouble), ref, bf16 ? 0.3 : 1e-5, label + " combine");
      smx::testing::expect_close(tokens.grad().to(at::kDouble), t64.grad(), bf16 ? 0.3 : 1e-5,
                                 label + " d tokens");
      smx::testing::expect_close(weight.grad().to(at::kDouble), w64.grad(), bf16 ? 1.0 : 1e-4,
                                 label + " d weight");
    }
    // Tokens no slot names get zeros, and so does their gradient.
    EXPECT_EQ(si.offsets[T].item<int64_t>(), S);
    EXPECT_EQ(si.offsets[T - 1].item<int64_t>(), S);  // tokens T-5 .. T-1: no slots
  }
}

TEST(ExpertDispatchTest, RejectsAnIndexOutsideTheTokens) {
  EXPECT_THROW(make_slot_index(torch::tensor({0, 3}, torch::kLong), 3), c10::Error);
}

}  // namespace
}  // namespace smx::ops
