// SelfAttention against its definition (docs/design.md §1.4) in fp64: logits q·kᵀ/√Dh with the
// padding mask valid_q ∧ valid_k, softmax over keys, ·v, the output projection. Inference takes
// a few examples at a time (their scores stay in cache); the chunked forward must equal the
// whole-batch one, pads included.
#include <cmath>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "smx/model/attention.h"
#include "support/test_util.h"

namespace smx::model {
namespace {

// The definition, fp64, from the layer's own weights: x [B, N, D], valid [B, N] -> [B, N, D].
at::Tensor reference(const SelfAttention& a, const at::Tensor& x, const at::Tensor& valid,
                     int64_t H) {
  const int64_t B = x.size(0), N = x.size(1), D = x.size(2), Dh = D / H;
  const at::Tensor x64 = x.to(torch::kDouble);
  auto project = [&](const Dense& d, const at::Tensor& in) {
    return at::matmul(in, d.kernel.to(torch::kDouble)) + d.bias.to(torch::kDouble);
  };
  auto heads = [&](const at::Tensor& t) { return t.view({B, N, H, Dh}).transpose(1, 2); };
  const at::Tensor q = heads(project(*a.query, x64)), k = heads(project(*a.key, x64)),
                   v = heads(project(*a.value, x64));
  at::Tensor logits = at::matmul(q, k.transpose(-2, -1)) / std::sqrt(static_cast<double>(Dh));
  const at::Tensor mask = (valid.unsqueeze(2) & valid.unsqueeze(1)).unsqueeze(1);
  logits = logits.masked_fill(mask.logical_not(), -1e30);
  const at::Tensor context =
      at::matmul(at::softmax(logits, -1), v).transpose(1, 2).reshape({B, N, D});
  return project(*a.out, context);
}

TEST(AttentionTest, ChunkedInferenceEqualsTheDefinitionAndTheWholeBatch) {
  // fp32 [3, 64, 32] with 2 heads: 32 KiB of scores per example; a 64 KiB budget runs the batch
  // as chunks of 2 and 1 examples. Example 1 has 10 pads at its end.
  constexpr int64_t B = 3, N = 64, D = 32, H = 2;
  torch::manual_seed(11);
  SelfAttention attention(D, H, /*dropout_rate=*/0.0);
  attention.inference_scores_bytes = 64 << 10;
  {
    torch::NoGradGuard no_grad;  // weights large enough for peaked, distinct attention rows
    for (auto& p : attention.parameters()) p.normal_(0.0, 0.3);
  }
  const at::Tensor x = torch::randn({B, N, D});
  at::Tensor valid = torch::ones({B, N}, torch::kBool);
  valid[1].narrow(0, N - 10, 10).fill_(false);
  const MixingInput input{x, valid, /*has_pads=*/true};

  torch::NoGradGuard no_grad;
  attention.eval();
  const at::Tensor chunked = attention.forward(input);
  attention.train();  // rate 0: no dropout, the whole batch in one pass
  const at::Tensor whole = attention.forward(input);

  const at::Tensor ref = reference(attention, x, valid, H);
  const double to_ref = (chunked.to(torch::kDouble) - ref).abs().max().item<double>();
  const double to_whole = (chunked - whole).abs().max().item<double>();
  const double scale = ref.abs().max().item<double>();
  std::printf(
      "    chunked vs fp64 definition: max|diff| %.3e (max|out| %.2f); vs whole batch: %.3e\n",
      to_ref, scale, to_whole);
  EXPECT_LT(to_ref, 1e-5 * scale);
  EXPECT_LT(to_whole, 1e-6);
}

}  // namespace
}  // namespace smx::model
