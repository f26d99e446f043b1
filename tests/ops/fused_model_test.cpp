// A whole tiny Sparse Mixer (attention, Linear mixing, MoE, masked padding) with smx's fused
// kernels against the same model on plain ATen ops (ops/fused_kernels.h): outputs, losses and
// every parameter's gradient, in fp32 and under bf16 autocast.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "smx/bench/precision.h"
#include "smx/core/autocast.h"
#include "smx/model/compute_weights.h"
#include "smx/model/sparse_mixer.h"
#include "smx/ops/fused_kernels.h"
#include "support/test_util.h"

namespace smx::ops {
namespace {

struct ModelRun {
  at::Tensor hidden, logits;
  std::vector<at::Tensor> grads;
};

ModelRun run(model::SparseMixer& m, const at::Tensor& ids, const at::Tensor& types,
             const at::Tensor& positions, bench::Precision precision, bool fused) {
  set_fused_kernels(fused);
  m.zero_grad();
  ModelRun r;
  {
    const AutocastScope scope(precision == bench::Precision::kBf16, at::kCPU, AutocastCache::kKeep);
    const auto out = m.forward(ids, types, positions);
    r.hidden = out.encoder.hidden.to(at::kFloat);
    r.logits = out.mlm_logits.to(at::kFloat);
    (r.logits.square().mean() + out.classification_logits.to(at::kFloat).sum() +
     out.encoder.z_loss.sum())
        .backward();
  }
  clear_autocast_cache();
  model::fold_weight_copy_grads(m);  // bf16: the GEMM weights' gradients are on their bf16 copies
  for (const auto& p : m.parameters()) r.grads.push_back(p.grad().clone());
  set_fused_kernels(true);
  return r;
}

TEST(FusedModelTest, FusedKernelsMatchTheAtenOpsModel) {
  for (const auto precision : {bench::Precision::kFp32, bench::Precision::kBf16}) {
    ModelConfig c = smx::testing::tiny_config("linear", Padding::kMasked);
    c.dropout_rate = c.mixing_dropout_rate = c.expert_dropout_rate = 0;
    const auto m = model::make_sparse_mixer(c, 7);
    m->train();
    torch::manual_seed(8);
    const smx::testing::TinyBatch batch = smx::testing::tiny_padded_batch(c);
    const ModelRun fused = run(*m, batch.ids, batch.types, batch.positions, precision, true);
    const ModelRun aten = run(*m, batch.ids, batch.types, batch.positions, precision, false);
    const bool bf16 = precision == bench::Precision::kBf16;
    const std::string label = bench::to_string(precision);
    smx::testing::expect_close(fused.hidden, aten.hidden, bf16 ? 5e-2 : 1e-5, label + " hidden");
    smx::testing::expect_close(fused.logits, aten.logits, bf16 ? 5e-2 : 1e-5, label + " logits");
    double worst = 0;
    for (size_t i = 0; i < fused.grads.size(); ++i)
      worst = std::max(worst, smx::testing::max_abs_diff(fused.grads[i], aten.grads[i]));
    std::printf("    %s: max |grad diff| over %zu parameters = %.3e\n", label.c_str(),
                fused.grads.size(), worst);
    EXPECT_LT(worst, bf16 ? 5e-2 : 1e-5) << label;
  }
}

}  // namespace
}  // namespace smx::ops
