// bf16 GEMM weights held once (model/serving_weights.h) against the fp32 model under bf16
// autocast: the same forward within bf16 tolerance (the casts are the same .to(bf16)); what stays
// fp32 (router, LayerNorm, embeddings, biases) does; resident parameter bytes shrink.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "smx/core/autocast.h"
#include "smx/model/moe_layer.h"
#include "smx/model/serving_weights.h"
#include "smx/model/sparse_mixer.h"
#include "support/test_util.h"

namespace smx::model {
namespace serving_weights_test {

at::Tensor pooled_under_autocast(SparseMixer& m, const at::Tensor& ids) {
  torch::NoGradGuard no_grad;
  const AutocastScope bf16(true, torch::kCPU);
  return m.forward(ids, torch::zeros_like(ids)).encoder.pooled.to(torch::kFloat);
}

TEST(ServingWeightsTest, Bf16WeightsMatchAutocastOverFp32Weights) {
  for (const std::string arch : {"linear", "bert"}) {
    const ModelConfig c = smx::testing::tiny_config(arch, Padding::kMasked);
    const auto reference = make_sparse_mixer(c, 11);  // fp32 weights, autocast casts them
    const auto held = make_sparse_mixer(c, 11);       // the same weights, converted once
    reference->eval();
    held->eval();
    const WeightConversion conv = hold_gemm_weights_in(*held, at::kBFloat16);
    std::printf("    %-7s %ld tensors converted, parameters %ld -> %ld bytes\n", arch.c_str(),
                static_cast<long>(conv.tensors), static_cast<long>(conv.bytes_before),
                static_cast<long>(conv.bytes_after));
    EXPECT_GT(conv.tensors, 0);
    EXPECT_LT(conv.bytes_after, conv.bytes_before * 6 / 10);
    for (const auto& p : held->named_parameters()) {
      const std::string& name = p.key();
      const bool gemm_matrix = p.value().dim() >= 2 &&
                               name.find("embeddings") == std::string::npos &&
                               name.find("router") == std::string::npos &&
                               name.find("bias") == std::string::npos;  // MoE biases: [E, F]
      EXPECT_EQ(p.value().scalar_type(), gemm_matrix ? at::kBFloat16 : at::kFloat) << name;
    }
    torch::manual_seed(2);
    const at::Tensor ids = torch::randint(1, c.vocab_size, {3, 16});
    const at::Tensor want = pooled_under_autocast(*reference, ids);
    const at::Tensor got = pooled_under_autocast(*held, ids);
    smx::testing::expect_close(got, want, 2e-2, arch + ": bf16 weights vs autocast");
  }
}

}  // namespace serving_weights_test
}  // namespace smx::model
