// The config keys imported models need (embedding_projection, hidden_act, layer_norm_eps,
// max_position_embeddings): parsing and validation errors; defaults that leave a model's
// parameters and outputs bit-identical; each key changing exactly what it names (shapes, parameter
// counts against accounting, the activation against an ATen reference, the LayerNorm epsilon).
#include <gtest/gtest.h>
#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include "smx/accounting/accounting.h"
#include "smx/config/model_config.h"
#include "smx/model/sparse_mixer.h"
#include "support/test_util.h"

namespace model_config_keys_test {
namespace {

using json = nlohmann::json;

smx::ModelConfig bert_shaped() {
  smx::ModelConfig c = smx::testing::tiny_config("bert", smx::Padding::kMasked);
  c.num_moe_layers = 0;
  c.d_emb = c.d_model;
  c.dropout_rate = c.mixing_dropout_rate = c.expert_dropout_rate = 0;
  c.validate();
  return c;
}

int64_t numel(const torch::nn::Module& m) {
  int64_t n = 0;
  for (const auto& p : m.parameters()) n += p.numel();
  return n;
}

struct Outputs {
  at::Tensor hidden, pooled, mlm;
};

// `kernel_scale` multiplies every Dense kernel: N(0, 0.02²) weights keep pre-activations near 0,
// where the two GELU forms agree to ~1e-6.
Outputs run(const smx::ModelConfig& c, double kernel_scale = 1.0) {
  auto m = smx::model::make_sparse_mixer(c, 3);
  m->eval();
  {
    torch::NoGradGuard no_grad;
    for (auto& p : m->named_parameters())
      if (p.key().size() > 7 && p.key().substr(p.key().size() - 7) == ".kernel")
        p.value().mul_(kernel_scale);
  }
  torch::manual_seed(11);
  const at::Tensor ids = torch::randint(1, c.vocab_size, {2, 12}, torch::kLong);
  const at::Tensor types = torch::zeros_like(ids);
  const at::Tensor positions = torch::tensor({1, 4, 0, 7}, torch::kLong).view({2, 2});
  torch::NoGradGuard no_grad;
  const auto out = m->forward(ids, types, positions);
  return {out.encoder.hidden, out.encoder.pooled, out.mlm_logits};
}

TEST(ModelConfigKeysTest, DefaultsAreTheModelsSoFarAndRoundTrip) {
  const smx::ModelConfig d;
  EXPECT_TRUE(d.embedding_projection);
  EXPECT_EQ(d.hidden_act, "gelu_tanh");
  EXPECT_EQ(d.layer_norm_eps, 1e-12);
  EXPECT_EQ(d.max_position_embeddings, 0);
  EXPECT_EQ(d.position_table_size(), d.max_seq_len);
  smx::ModelConfig c = bert_shaped();
  c.embedding_projection = false;
  c.hidden_act = "gelu_erf";
  c.layer_norm_eps = 1e-5;
  c.max_position_embeddings = 40;
  const smx::ModelConfig back = smx::ModelConfig::from_json(c.to_json(), "round trip");
  EXPECT_EQ(back.to_json(), c.to_json());

  // Writing the defaults out explicitly builds the same parameters and the same outputs, bit for
  // bit, as leaving them out.
  const smx::ModelConfig base = smx::testing::tiny_config("linear", smx::Padding::kMasked);
  json j = base.to_json();
  j["embedding_projection"] = true;
  j["hidden_act"] = "gelu_tanh";
  j["layer_norm_eps"] = 1e-12;
  j["max_position_embeddings"] = 0;
  const smx::ModelConfig explicit_defaults = smx::ModelConfig::from_json(j, "explicit");
  json without = base.to_json();
  for (const char* key :
       {"embedding_projection", "hidden_act", "layer_norm_eps", "max_position_embeddings"})
    without.erase(key);
  const smx::ModelConfig implicit = smx::ModelConfig::from_json(without, "implicit");
  const Outputs a = run(explicit_defaults), b = run(implicit);
  EXPECT_TRUE(torch::equal(a.hidden, b.hidden));
  EXPECT_TRUE(torch::equal(a.pooled, b.pooled));
  EXPECT_TRUE(torch::equal(a.mlm, b.mlm));
}

TEST(ModelConfigKeysTest, BadValuesAreErrorsNamingTheKey) {
  const json base = bert_shaped().to_json();
  auto expect_bad = [&](const char* key, const json& value, const std::string& needle) {
    json j = base;
    j[key] = value;
    smx::testing::expect_error([&] { smx::ModelConfig::from_json(j, "cfg.json"); }, needle);
  };
  expect_bad("hidden_act", "relu", "hidden_act");
  expect_bad("hidden_act", "gelu", "gelu_erf");
  expect_bad("layer_norm_eps", 0.0, "layer_norm_eps");
  expect_bad("layer_norm_eps", "small", "layer_norm_eps");
  expect_bad("max_position_embeddings", 4, "max_position_embeddings");  // < max_seq_len
  expect_bad("embedding_projection", 1, "embedding_projection");
  json j = base;
  j["embedding_projection"] = false;
  j["d_emb"] = 8;  // d_model is 32
  smx::testing::expect_error([&] { smx::ModelConfig::from_json(j, "cfg.json"); },
                             "embedding_projection false needs d_emb = d_model");
}

TEST(ModelConfigKeysTest, ShapeKeysChangeParametersAndAccountingAgrees) {
  for (const bool projection : {true, false})
    for (const int64_t positions : {int64_t{0}, int64_t{48}}) {
      smx::ModelConfig c = bert_shaped();
      c.embedding_projection = projection;
      c.max_position_embeddings = positions;
      c.validate();
      const auto m = smx::model::make_sparse_mixer(c, 1);
      const auto params = m->named_parameters();
      EXPECT_EQ(params.contains("encoder.embedder.hidden_mapping_in.kernel"), projection);
      EXPECT_EQ(params["encoder.embedder.position_embeddings"].size(0),
                positions > 0 ? positions : c.max_seq_len);
      const int64_t counted = smx::accounting::account(c).encoder_parameters;
      std::printf("    projection %d, positions %ld: %ld parameters, accounting %ld\n", projection,
                  static_cast<long>(c.position_table_size()), static_cast<long>(numel(*m->encoder)),
                  static_cast<long>(counted));
      EXPECT_EQ(counted, numel(*m->encoder));
    }
}

// hidden_act gelu_erf: the MLP computes W2·gelu_erf(W1·x + b1) + b2 (checked against ATen's exact
// GELU), and the whole model's outputs differ from the tanh form.
TEST(ModelConfigKeysTest, ExactGeluReachesTheMlpAndTheMlmHead) {
  smx::ModelConfig c = bert_shaped();
  c.hidden_act = "gelu_erf";
  auto m = smx::model::make_sparse_mixer(c, 5);
  m->eval();
  auto* block = m->encoder->layers[0]->as<smx::model::EncoderBlock>();
  ASSERT_NE(block, nullptr);
  const auto& mlp = block->feed_forward;
  torch::NoGradGuard no_grad;
  mlp->intermediate->kernel.mul_(25);  // pre-activations of order 1
  const at::Tensor x = torch::randn({2, 5, c.d_model}) * 2;
  const at::Tensor want =
      at::matmul(
          at::gelu(at::matmul(x, mlp->intermediate->kernel) + mlp->intermediate->bias, "none"),
          mlp->output->kernel) +
      mlp->output->bias;
  smx::testing::expect_close(mlp->forward(x), want, 1e-5, "gelu_erf MLP vs ATen exact GELU");
  const at::Tensor tanh_form =
      at::matmul(
          at::gelu(at::matmul(x, mlp->intermediate->kernel) + mlp->intermediate->bias, "tanh"),
          mlp->output->kernel) +
      mlp->output->bias;
  EXPECT_GT(smx::testing::max_abs_diff(mlp->forward(x), tanh_form), 1e-5);

  smx::ModelConfig t = c;
  t.hidden_act = "gelu_tanh";
  const Outputs erf = run(c, 25), tanh = run(t, 25);
  EXPECT_GT(smx::testing::max_abs_diff(erf.hidden, tanh.hidden), 1e-5);
  EXPECT_GT(smx::testing::max_abs_diff(erf.mlm, tanh.mlm), 1e-5);
}

TEST(ModelConfigKeysTest, LayerNormEpsilonReachesEveryLayerNorm) {
  smx::ModelConfig c = bert_shaped();
  c.layer_norm_eps = 1e-3;
  const auto m = smx::model::make_sparse_mixer(c, 2);
  int norms = 0;
  for (const auto& item : m->named_modules()) {
    const auto* ln = dynamic_cast<const smx::model::LayerNorm*>(item.value().get());
    if (ln == nullptr) continue;
    ++norms;
    EXPECT_EQ(ln->eps(), 1e-3) << item.key();
  }
  EXPECT_EQ(norms, 2 + 2 * c.num_layers);  // embeddings, MLM head, two per block
  smx::ModelConfig d = c;
  d.layer_norm_eps = 1e-12;
  EXPECT_GT(smx::testing::max_abs_diff(run(c).hidden, run(d).hidden), 1e-6);
}

}  // namespace
}  // namespace model_config_keys_test
