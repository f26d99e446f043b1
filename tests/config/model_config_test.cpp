#include <filesystem>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "smx/config/model_config.h"
#include "smx/core/error.h"
#include "support/scratch_dir.h"
#include "support/test_util.h"

namespace smx {
namespace {

using ::testing::HasSubstr;
using json = nlohmann::json;

using smx::testing::expect_error;

TEST(LayoutTest, DesignDocExamples) {
  // docs/design.md §1.3: MIDDLE with L = 4: n = 1 -> {2}; n = 2 -> {1, 2}.
  auto layers = [](int64_t L, int64_t n, Layout layout) {
    std::vector<int64_t> out;
    for (int64_t l = 0; l < L; ++l)
      if (is_replacement(l, L, n, layout)) out.push_back(l);
    return out;
  };
  EXPECT_EQ(layers(4, 1, Layout::kMiddle), (std::vector<int64_t>{2}));
  EXPECT_EQ(layers(4, 2, Layout::kMiddle), (std::vector<int64_t>{1, 2}));
  // Sparse Mixer Base: attention TOP 10-13, MoE MIDDLE 5-8.
  EXPECT_EQ(layers(14, 4, Layout::kTop), (std::vector<int64_t>{10, 11, 12, 13}));
  EXPECT_EQ(layers(14, 4, Layout::kMiddle), (std::vector<int64_t>{5, 6, 7, 8}));
  // Small (L = 8): attention 4-7, MoE 2-5.
  EXPECT_EQ(layers(8, 4, Layout::kTop), (std::vector<int64_t>{4, 5, 6, 7}));
  EXPECT_EQ(layers(8, 4, Layout::kMiddle), (std::vector<int64_t>{2, 3, 4, 5}));
  EXPECT_EQ(layers(14, 4, Layout::kBottom), (std::vector<int64_t>{0, 1, 2, 3}));
  EXPECT_EQ(layers(12, 4, Layout::kMixed), (std::vector<int64_t>{0, 3, 6, 9}));
  EXPECT_TRUE(layers(12, 0, Layout::kMixed).empty());
}

TEST(ModelConfigTest, PresetsLoadAndMatchTheDesignDoc) {
  const ModelConfig sm = load_model_config("sparse-mixer-base");
  EXPECT_EQ(sm.model_arch, "linear");
  EXPECT_EQ(sm.num_layers, 14);
  EXPECT_EQ(sm.routing_groups(), "tokens:4096");
  EXPECT_EQ(sm.padding, Padding::kReference);
  EXPECT_TRUE(sm.is_moe_layer(5) && sm.is_moe_layer(8) && !sm.is_moe_layer(9));
  EXPECT_TRUE(sm.is_attention_layer(10) && !sm.is_attention_layer(9));
  const ModelConfig fsm = load_model_config("fast-sparse-mixer-base");
  EXPECT_DOUBLE_EQ(fsm.eval_capacity_factor, 0.5);
  EXPECT_DOUBLE_EQ(fsm.train_capacity_factor, 0.5);
  const ModelConfig bert = load_model_config("bert-base");
  EXPECT_TRUE(bert.is_attention_layer(0));
  for (const auto& name : preset_names()) EXPECT_NO_THROW(load_model_config(name)) << name;
  EXPECT_GE(preset_names().size(), 15u);
}

TEST(ModelConfigTest, JsonRoundTrip) {
  ModelConfig c = testing::tiny_config();
  c.dispatch_algorithm = "SCATTER_TOKENS_CHOOSE";
  c.num_selected_experts = 2;
  const ModelConfig back = ModelConfig::from_json(c.to_json(), "test");
  EXPECT_EQ(back.to_json(), c.to_json());
  EXPECT_EQ(back.routing_groups(), "sequence");
}

TEST(ModelConfigTest, OverridesApply) {
  const ModelConfig c = load_model_config(
      "sparse-mixer-base", {"num_layers=6", "padding=masked", "routing_groups=sequence"});
  EXPECT_EQ(c.num_layers, 6);
  EXPECT_EQ(c.padding, Padding::kMasked);
  EXPECT_TRUE(c.sequence_groups());
}

TEST(ModelConfigTest, ErrorsNameTheKey) {
  auto with = [](json patch) {
    json j = testing::tiny_config().to_json();
    j.merge_patch(patch);
    return ModelConfig::from_json(j, "cfg.json");
  };
  expect_error([&] { with({{"num_layerz", 3}}); }, "unknown key 'num_layerz'");
  expect_error([&] { with({{"num_layers", "four"}}); }, "num_layers");
  expect_error([&] { with({{"num_moe_layers", 9}}); }, "num_moe_layers is 9");
  expect_error([&] { with({{"num_attention_layers", 5}}); }, "num_attention_layers is 5");
  expect_error([&] { with({{"num_heads", 5}}); }, "not divisible by num_heads");
  expect_error([&] { with({{"train_capacity_factor", 0.0}}); }, "capacity factors must be > 0");
  expect_error([&] { with({{"eval_capacity_factor", -1.0}}); }, "capacity factors must be > 0");
  expect_error([&] { with({{"moe_layout", "SIDEWAYS"}}); }, "layout 'SIDEWAYS' is unknown");
  expect_error([&] { with({{"model_arch", "conv"}}); }, "model_arch 'conv' is unknown");
  expect_error([&] { with({{"vocab_size", 0}}); }, "vocab_size is 0");
  expect_error([&] { with({{"max_seq_len", 0}}); }, "max_seq_len is 0");
  expect_error(
      [&] {
        with({{"padding", "reference"}, {"pad_to_multiple", 16}});
      },
      "only applies to padding \"masked\"");
  expect_error([&] { with({{"routing_groups", "tokens:0"}}); }, "routing_groups");
  expect_error([&] { with({{"routing_groups", "batch"}}); }, "routing_groups");
  expect_error([&] { with({{"dropout_rate", 1.5}}); }, "dropout_rate");
  expect_error([&] { with({{"dispatch_algorithm", "TOP2"}}); }, "dispatch_algorithm 'TOP2'");
  expect_error(
      [&] {
        with({{"dispatch_algorithm", "MASK_TOKENS_CHOOSE"}, {"num_selected_experts", 5}});
      },
      "num_selected_experts is 5");
  expect_error([&] { with({{"pad_id", 97}}); }, "pad_id 97");
  expect_error([&] { with({{"model_arch", "linear"}, {"use_fft", true}}); }, "use_fft");
  expect_error(
      [&] {
        with({{"vocab_size", 1000000000000LL}});
      },
      "vocab_size is 1000000000000; it must be between 1 and 16777216");
  expect_error([&] { with({{"d_ff", int64_t{1} << 40}}); }, "d_ff is 1099511627776");
  expect_error([&] { with({{"num_layers", 100000}}); }, "it must be between 1 and 1024");
  expect_error([] { load_model_config("no-such-preset"); }, "neither a file nor a preset");
  expect_error([] { load_model_config("bert-base", {"num_layers"}); }, "not key=value");
}

TEST(ModelConfigTest, HostileFilesGetClearErrors) {
  smx::testing::ScratchDir dir;
  // A config value nested 100,000 deep: a SIGSEGV (stack overflow in dump()) before parse_json.
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  const std::string path = dir.write("deep.json", R"({"num_layers": )" + deep + "}");
  expect_error([&] { load_model_config(path); }, "JSON nests deeper than 64 levels");
  expect_error([&] { load_model_config("sparse-mixer-tiny", {"num_layers=" + deep}); },
               "not an integer");
  // A folder where a file is expected: was "basic_filebuf::underflow".
  std::filesystem::create_directories(dir.file("a-folder"));
  expect_error([&] { load_model_config(dir.file("a-folder")); }, "is a folder; give the path");
  expect_error([&] { load_model_config(dir.write("bad.json", "{\"num_layers\": 4,")); },
               "bad.json: not valid JSON");
}

}  // namespace
}  // namespace smx
