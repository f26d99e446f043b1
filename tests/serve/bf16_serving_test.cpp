// bf16 serving through serve::InferenceEngine: the engine converts the model's GEMM weights to bf16
// once (model/serving_weights.h), its outputs equal those of the fp32 weights under bf16 autocast,
// and an fp32 engine refuses a converted model.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "smx/core/autocast.h"
#include "smx/serve/inference.h"
#include "support/model_folder.h"
#include "support/test_util.h"
#include "support/tiny_tokenizer.h"

namespace smx::serve {
namespace bf16_serving_test {

std::shared_ptr<ModelBundle> bundle_with_seed(const ModelConfig& config, uint64_t seed) {
  return std::make_shared<ModelBundle>(config, smx::testing::tiny_tokenizer(),
                                       model::make_sparse_mixer(config, seed), std::nullopt);
}

TEST(Bf16ServingTest, EngineHoldsBf16WeightsWithAutocastOutputs) {
  const ModelConfig config = smx::testing::tiny_serving_config(Padding::kMasked);
  const auto converted = bundle_with_seed(config, 9);
  const auto reference = bundle_with_seed(config, 9);  // same weights, left fp32
  const InferenceEngine engine(converted, Precision::kBf16);
  int64_t bf16_tensors = 0;
  for (const auto& p : converted->model().parameters())
    bf16_tensors += p.scalar_type() == at::kBFloat16;
  EXPECT_GT(bf16_tensors, 0);

  tasks::EncodedInput input;
  input.input_ids = {2, 17, 5, 40, 9, 3};
  input.type_ids.assign(input.input_ids.size(), 0);
  const std::vector<ExampleOutput> out = engine.run({{&input, OutputKind::kCls}});
  ASSERT_EQ(out.size(), 1u);

  // The fp32 weights under the same autocast scope the engine uses.
  torch::NoGradGuard no_grad;
  // Padded as the engine pads a batch (docs/design.md §7.1).
  std::vector<int64_t> padded = input.input_ids;
  padded.resize(static_cast<size_t>(config.padded_length(6)), config.pad_id);
  const at::Tensor ids = torch::tensor(padded).unsqueeze(0);
  at::Tensor want;
  {
    const AutocastScope bf16(true, torch::kCPU);
    want =
        reference->model().forward(ids, torch::zeros_like(ids)).encoder.pooled[0].to(torch::kFloat);
  }
  const at::Tensor got = torch::tensor(out[0].values);
  smx::testing::expect_close(got, want.contiguous(), 1e-6, "engine bf16 weights vs autocast");

  smx::testing::expect_error([&] { InferenceEngine fp32(converted, Precision::kFp32); },
                             "converted for bf16 serving");
}

}  // namespace bf16_serving_test
}  // namespace smx::serve
