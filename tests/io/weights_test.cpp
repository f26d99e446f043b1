#include "smx/io/weights.h"
#include "support/scratch_dir.h"

#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <functional>
#include <limits>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "smx/core/error.h"
#include "smx/io/safetensors.h"

namespace smx::io {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

class WeightsTest : public ::testing::Test {
 protected:
  std::string file(const std::string& name) const { return dir_.file(name); }

  smx::testing::ScratchDir dir_;
};

// A Linear inside a child module plus an fp32 and an int64 buffer.
struct Small : torch::nn::Module {
  explicit Small(int in = 8, int out = 4) {
    block = register_module("block", std::make_shared<torch::nn::Module>());
    fc = block->register_module("fc", torch::nn::Linear(in, out));
    scale = register_buffer("scale", torch::rand({out}));
    ids = register_buffer("ids", torch::arange(out, torch::kLong));
  }
  std::shared_ptr<torch::nn::Module> block;
  torch::nn::Linear fc{nullptr};
  torch::Tensor scale, ids;
};

std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const smx::Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected smx::Error";
  return "";
}

TEST_F(WeightsTest, RoundTripsParametersAndBuffers) {
  torch::manual_seed(1);
  Small a;
  const std::string path = file("w.safetensors");
  save_module_weights(a, path, {{"model", "small"}});

  const SafetensorsFile f = read_safetensors(path);
  std::vector<std::string> names;
  for (const auto& nt : f.tensors) names.push_back(nt.name);
  EXPECT_EQ(names, (std::vector<std::string>{"block.fc.bias", "block.fc.weight", "ids", "scale"}));

  torch::manual_seed(2);
  Small b;
  b.ids.fill_(-1);
  ASSERT_FALSE(torch::equal(a.fc->weight, b.fc->weight));
  const auto meta = load_module_weights(b, path);
  EXPECT_EQ(meta.at("model"), "small");
  EXPECT_TRUE(torch::equal(a.fc->weight, b.fc->weight));
  EXPECT_TRUE(torch::equal(a.fc->bias, b.fc->bias));
  EXPECT_TRUE(torch::equal(a.scale, b.scale));
  EXPECT_TRUE(torch::equal(a.ids, b.ids));
  // Loaded in place: still the module's own parameter, still trainable.
  EXPECT_TRUE(b.fc->weight.requires_grad());
  EXPECT_EQ(b.named_parameters()["block.fc.weight"].data_ptr(), b.fc->weight.data_ptr());
}

TEST_F(WeightsTest, SkipsUndefinedParameters) {
  torch::nn::Linear no_bias(torch::nn::LinearOptions(3, 2).bias(false));
  const std::string path = file("nb.safetensors");
  save_module_weights(*no_bias, path);
  const SafetensorsFile f = read_safetensors(path);
  ASSERT_EQ(f.tensors.size(), 1u);
  EXPECT_EQ(f.tensors[0].name, "weight");
  torch::nn::Linear other(torch::nn::LinearOptions(3, 2).bias(false));
  load_module_weights(*other, path);
  EXPECT_TRUE(torch::equal(other->weight, no_bias->weight));
}

TEST_F(WeightsTest, MismatchListsEveryProblemAndCopiesNothing) {
  Small model;
  const std::string path = file("bad.safetensors");
  write_safetensors(path, {
                              {"block.fc.weight", torch::zeros({4, 3})},   // wrong shape
                              {"scale", torch::zeros({4}, torch::kHalf)},  // wrong dtype
                              {"ids", torch::zeros({4}, torch::kLong)},    // fine
                              {"extra.thing", torch::zeros({1})},          // unexpected
                              {"another", torch::zeros({2})},              // unexpected
                          });                                              // block.fc.bias missing
  const auto ids_before = model.ids.clone();
  model.ids.fill_(9);
  const std::string msg = error_of([&] { load_module_weights(model, path); });
  EXPECT_THAT(msg, HasSubstr("weights file '" + path + "' does not match the model"));
  EXPECT_THAT(msg, HasSubstr("missing: block.fc.bias (shape [4])"));
  EXPECT_THAT(msg, HasSubstr("unexpected: another, extra.thing"));
  EXPECT_THAT(msg, HasSubstr("wrong shape: block.fc.weight is [4, 3] in the file, the model "
                             "expects [4, 8]"));
  EXPECT_THAT(msg, HasSubstr("wrong dtype: scale is F16 in the file, the model expects F32"));
  EXPECT_THAT(msg, ::testing::Not(HasSubstr("ids")));
  // Nothing was copied, not even the tensor that matched.
  EXPECT_TRUE(torch::equal(model.ids, torch::full({4}, 9, torch::kLong)));
}

TEST_F(WeightsTest, DifferentConfigurationIsRejected) {
  Small small(8, 4);
  const std::string path = file("s.safetensors");
  save_module_weights(small, path);
  Small wider(8, 6);
  const std::string msg = error_of([&] { load_module_weights(wider, path); });
  EXPECT_THAT(msg, HasSubstr("block.fc.weight is [4, 8] in the file, the model expects [6, 8]"));
  EXPECT_THAT(msg, HasSubstr("block.fc.bias is [4]"));
  EXPECT_THAT(msg, HasSubstr("scale is [4]"));
  EXPECT_THAT(msg, HasSubstr("ids is [4]"));
}

TEST_F(WeightsTest, NonFiniteWeightsAreRefusedUnlessAllowed) {
  Small saved;
  {
    torch::NoGradGuard no_grad;
    saved.fc->weight[0][1] = std::numeric_limits<float>::quiet_NaN();
    saved.scale[2] = std::numeric_limits<float>::infinity();
  }
  const std::string path = file("nan.safetensors");
  save_module_weights(saved, path);
  Small model;
  const at::Tensor before = model.fc->weight.clone();
  const std::string msg = error_of([&] { load_module_weights(model, path); });
  EXPECT_THAT(msg, HasSubstr("holds NaN or Inf values in block.fc.weight, scale"));
  EXPECT_THAT(msg, HasSubstr("--allow-nonfinite"));
  EXPECT_TRUE(torch::equal(model.fc->weight, before));  // nothing copied
  WeightLoadOptions allow;
  allow.allow_nonfinite = true;
  load_module_weights(model, path, allow);
  EXPECT_TRUE(std::isnan(model.fc->weight[0][1].item<float>()));
}

TEST_F(WeightsTest, MissingFileNamesThePath) {
  Small model;
  const std::string path = file("nope.safetensors");
  EXPECT_THAT(error_of([&] { load_module_weights(model, path); }), HasSubstr(path));
}

}  // namespace
}  // namespace smx::io
