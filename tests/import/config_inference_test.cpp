// Config inference on the five released layouts (Sparse Mixer / Fast Sparse Mixer Base and Small,
// BERT Base), built at full size from shape-only tensors (expanded scalars: no memory), against the
// presets that describe them; and --config checks that name every differing key.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "smx/import/config_inference.h"
#include "support/test_util.h"

namespace smx::importer {
namespace {

using smx::testing::expect_error;

at::Tensor shaped(std::vector<int64_t> shape) {
  return torch::zeros({1}).expand(shape);
}

// The reference's parameter tree for `c` (paths under "params"), experts split into `shards`
// files of `devices` devices each, experts on axis 1 of each per-device parameter.
ReferenceParams reference_tree(const ModelConfig& c, int64_t shards, int64_t devices) {
  ReferenceParams p;
  const int64_t D = c.d_model, De = c.d_emb, H = c.num_heads;
  auto add = [&](const std::string& path, std::vector<int64_t> shape) {
    p.dense[path] = shaped(shape);
    p.origin[path] = "replicated_checkpoint_1000000";
  };
  add("encoder/embedder/word/embedding", {c.vocab_size, De});
  add("encoder/embedder/position/embedding", {1, c.max_seq_len, De});
  add("encoder/embedder/type/embedding", {c.type_vocab_size, De});
  add("encoder/embedder/hidden_mapping_in/kernel", {De, D});
  for (int64_t l = 0; l < c.num_layers; ++l) {
    const std::string s = std::to_string(l);
    add("encoder/encoder_" + s + "/mixing_layer_norm/scale", {D});
    if (c.is_attention_layer(l))
      add("encoder/attention_" + s + "/self/query/kernel", {D, H, D / H});
    else
      add("encoder/linear_transform_" + s + "/input_kernel", {c.max_seq_len, c.max_seq_len});
    if (c.is_moe_layer(l)) {
      add("encoder/router_weights_" + s + "/DenseGeneral_0/kernel", {D, c.num_experts});
      const int64_t per_device = c.num_experts / (shards * devices);
      for (int64_t k = 0; k < shards; ++k)
        p.experts["encoder/expert_" + s + "/intermediate/kernel"].push_back(
            shaped({devices, D, per_device, c.expert_d_ff}));
    } else {
      add("encoder/feed_forward_" + s + "/intermediate/kernel", {D, c.d_ff});
    }
  }
  return p;
}

void expect_same_architecture(const ModelConfig& got, const ModelConfig& want) {
  EXPECT_EQ(got.model_arch, want.model_arch);
  for (const auto& [key, a, b] : std::vector<std::tuple<std::string, int64_t, int64_t>>{
           {"vocab_size", got.vocab_size, want.vocab_size},
           {"type_vocab_size", got.type_vocab_size, want.type_vocab_size},
           {"max_seq_len", got.max_seq_len, want.max_seq_len},
           {"d_emb", got.d_emb, want.d_emb},
           {"d_model", got.d_model, want.d_model},
           {"d_ff", got.d_ff, want.d_ff},
           {"num_heads", got.num_heads, want.num_heads},
           {"num_layers", got.num_layers, want.num_layers},
           {"num_attention_layers", got.num_attention_layers, want.num_attention_layers},
           {"num_moe_layers", got.num_moe_layers, want.num_moe_layers},
           {"min_expert_capacity", got.min_expert_capacity, want.min_expert_capacity},
           {"max_group_size", got.max_group_size, want.max_group_size}})
    EXPECT_EQ(a, b) << want.name << ": " << key;
  for (int64_t l = 0; l < want.num_layers; ++l) {
    EXPECT_EQ(got.is_attention_layer(l), want.is_attention_layer(l)) << want.name << " layer " << l;
    EXPECT_EQ(got.is_moe_layer(l), want.is_moe_layer(l)) << want.name << " layer " << l;
  }
  if (want.num_moe_layers > 0) {
    EXPECT_EQ(got.num_experts, want.num_experts);
    EXPECT_EQ(got.expert_d_ff, want.expert_d_ff);
  }
  EXPECT_EQ(got.train_capacity_factor, want.train_capacity_factor) << want.name;
  EXPECT_EQ(got.eval_capacity_factor, want.eval_capacity_factor) << want.name;
  EXPECT_EQ(got.dispatch_algorithm, want.dispatch_algorithm);
  EXPECT_EQ(got.padding, Padding::kReference);
}

TEST(ConfigInferenceTest, TheFiveReleasedLayoutsGiveThePresets) {
  const std::vector<std::pair<std::string, std::string>> releases = {
      {"sm_base", "sparse-mixer-base"},
      {"fsm_base", "fast-sparse-mixer-base"},
      {"sm_small", "sparse-mixer-small"},
      {"fsm_small", "fast-sparse-mixer-small"},
      {"bert", "bert-base"}};
  for (const auto& [label, preset] : releases) {
    const ModelConfig want = load_model_config(preset);
    const ReferenceParams p = reference_tree(want, 4, 2);
    const InferredConfig inferred = infer_config(p, {label, label + ".zip"});
    expect_same_architecture(inferred.config, want);
    // --config with the matching preset passes and keeps the preset's settings.
    const ModelConfig reconciled = reconcile_config(inferred, want, preset, label);
    EXPECT_EQ(reconciled.name, want.name);
    std::printf("    %-9s -> %s (%lld layers, capacity factor %.1f)\n", label.c_str(),
                preset.c_str(), static_cast<long long>(inferred.config.num_layers),
                inferred.config.eval_capacity_factor);
  }
}

TEST(ConfigInferenceTest, AConfigThatDoesNotFitNamesEveryKey) {
  const ModelConfig sm = load_model_config("sparse-mixer-base");
  const InferredConfig inferred = infer_config(reference_tree(sm, 2, 4), {"sm_base"});
  expect_error(
      [&] { reconcile_config(inferred, load_model_config("bert-base"), "bert-base", "x"); },
      "model_arch is linear in the checkpoint, bert in the config");
  expect_error(
      [&] { reconcile_config(inferred, load_model_config("sparse-mixer-small"), "small", "x"); },
      "num_layers is 14 in the checkpoint, 8 in the config");
  ModelConfig other = sm;
  other.moe_layout = Layout::kTop;
  expect_error([&] { reconcile_config(inferred, other, "top", "x"); },
               "MoE layers are 5, 6, 7, 8 in the checkpoint, 10, 11, 12, 13 in the config");
}

TEST(ConfigInferenceTest, LayersThatFollowNoLayoutAreRefused) {
  const ModelConfig sm = load_model_config("sparse-mixer-base");
  ReferenceParams p = reference_tree(sm, 1, 1);
  // Move layer 10's attention to layer 0: {0, 11, 12, 13} is no layout.
  p.dense.erase("encoder/attention_10/self/query/kernel");
  p.dense["encoder/attention_0/self/query/kernel"] = shaped({512, 8, 64});
  expect_error([&] { infer_config(p, {"sm_base"}); },
               "attention layers 0, 11, 12, 13 follow none of the layouts");
}

}  // namespace
}  // namespace smx::importer
