// The HF <-> smx name table: for BERT and FNet shapes it names every smx parameter exactly once
// (the classification head twice: NSP and task classifier), with shapes that agree after the
// layout change; aliases (no prefix, gamma/beta, decoder.bias); layouts round trip.
#include <map>
#include <set>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "smx/import/hf_names.h"
#include "smx/model/sparse_mixer.h"
#include "support/test_util.h"

namespace hf_names_test {
namespace {

using smx::importer::hf::Architecture;
using smx::importer::hf::architectures;
using smx::importer::hf::Family;
using smx::importer::hf::find_architecture;
using smx::importer::hf::Layout;
using smx::importer::hf::Part;

smx::ModelConfig shaped_like(Family family) {
  smx::ModelConfig c;
  c.model_arch = family == Family::kBert ? "bert" : "f_net";
  c.vocab_size = 40;
  c.type_vocab_size = family == Family::kBert ? 2 : 4;
  c.max_seq_len = 12;
  c.max_position_embeddings = 16;
  c.d_emb = c.d_model = 8;
  c.d_ff = 20;
  c.num_heads = 2;
  c.num_layers = 3;
  c.num_attention_layers = 0;
  c.num_moe_layers = 0;
  c.embedding_projection = family == Family::kFNet;
  c.hidden_act = "gelu_erf";
  c.validate();
  return c;
}

// HF's shape of a row, from the smx parameter's shape.
std::vector<int64_t> hf_shape(const at::Tensor& smx_param, Layout layout) {
  std::vector<int64_t> shape(smx_param.sizes().begin(), smx_param.sizes().end());
  if (layout == Layout::kTransposed) std::swap(shape[0], shape[1]);
  return shape;
}

void check_table_covers_model(Family family) {
  const smx::ModelConfig config = shaped_like(family);
  const auto model = smx::model::make_sparse_mixer(config, 1, 3);
  const auto params = model->named_parameters();
  std::map<std::string, int> mapped;
  std::set<std::string> hf_names;
  for (const auto& row : smx::importer::hf::name_table(family, config.num_layers)) {
    EXPECT_TRUE(hf_names.insert(row.hf).second) << "duplicate HF name " << row.hf;
    const at::Tensor* p = params.find(row.smx);
    ASSERT_NE(p, nullptr) << row.hf << " -> " << row.smx << " is not an smx parameter";
    ++mapped[row.smx];
    EXPECT_EQ(row.layout == Layout::kTransposed,
              row.smx.size() > 7 && row.smx.substr(row.smx.size() - 7) == ".kernel")
        << row.smx;
    // The layout change takes HF's shape to smx's.
    const at::Tensor hf = torch::randn(hf_shape(*p, row.layout));
    const at::Tensor back = smx::importer::hf::to_smx_layout(hf, row.layout);
    EXPECT_EQ(back.sizes(), p->sizes()) << row.hf;
    EXPECT_TRUE(back.is_contiguous());
    EXPECT_TRUE(torch::equal(smx::importer::hf::to_hf_layout(back, row.layout), hf)) << row.hf;
    const bool prefixed = row.hf.rfind(smx::importer::hf::family_prefix(family), 0) == 0;
    EXPECT_EQ(prefixed, row.part == Part::kEncoder || row.part == Part::kPooler) << row.hf;
  }
  for (const auto& item : params) {
    const int expected = item.key().rfind("classification.", 0) == 0 ? 2 : 1;
    EXPECT_EQ(mapped[item.key()], expected) << item.key();
  }
  EXPECT_EQ(mapped.size(), params.size());
  std::printf("    %s: %zu HF names for %zu smx parameters\n",
              smx::importer::hf::model_type(family), hf_names.size(), params.size());
}

TEST(HfNamesTest, BertTableNamesEveryParameterOnce) {
  check_table_covers_model(Family::kBert);
}

TEST(HfNamesTest, FNetTableNamesEveryParameterOnce) {
  check_table_covers_model(Family::kFNet);
}

TEST(HfNamesTest, KnownRowsAndAliases) {
  const auto rows = smx::importer::hf::name_table(Family::kBert, 1);
  std::map<std::string, std::string> by_hf;
  for (const auto& r : rows) by_hf[r.hf] = r.smx;
  EXPECT_EQ(by_hf["bert.encoder.layer.0.attention.self.query.weight"],
            "encoder.layers.0.mixing.query.kernel");
  EXPECT_EQ(by_hf["bert.encoder.layer.0.attention.output.dense.bias"],
            "encoder.layers.0.mixing.out.bias");
  EXPECT_EQ(by_hf["bert.embeddings.LayerNorm.weight"], "encoder.embedder.layer_norm.scale");
  EXPECT_EQ(by_hf["classifier.weight"], "classification.kernel");
  EXPECT_EQ(by_hf["cls.seq_relationship.bias"], "classification.bias");
  EXPECT_EQ(by_hf.count("bert.embeddings.projection.weight"), 0u);
  const auto fnet = smx::importer::hf::name_table(Family::kFNet, 1);
  bool projection = false;
  for (const auto& r : fnet)
    if (r.hf == "fnet.embeddings.projection.weight")
      projection = r.smx == "encoder.embedder.hidden_mapping_in.kernel";
  EXPECT_TRUE(projection);

  using smx::importer::hf::hf_name_aliases;
  EXPECT_EQ(
      hf_name_aliases("bert.embeddings.LayerNorm.weight", Family::kBert),
      (std::vector<std::string>{"bert.embeddings.LayerNorm.weight", "embeddings.LayerNorm.weight",
                                "bert.embeddings.LayerNorm.gamma", "embeddings.LayerNorm.gamma"}));
  EXPECT_EQ(hf_name_aliases("cls.predictions.transform.LayerNorm.bias", Family::kBert),
            (std::vector<std::string>{"cls.predictions.transform.LayerNorm.bias",
                                      "cls.predictions.transform.LayerNorm.beta"}));
  EXPECT_EQ(hf_name_aliases("cls.predictions.bias", Family::kFNet),
            (std::vector<std::string>{"cls.predictions.bias", "cls.predictions.decoder.bias"}));
  EXPECT_EQ(hf_name_aliases("fnet.pooler.dense.weight", Family::kFNet),
            (std::vector<std::string>{"fnet.pooler.dense.weight", "pooler.dense.weight"}));

  Family f = Family::kBert;
  EXPECT_TRUE(smx::importer::hf::parse_model_type("fnet", f));
  EXPECT_EQ(f, Family::kFNet);
  EXPECT_FALSE(smx::importer::hf::parse_model_type("roberta", f));
  EXPECT_TRUE(smx::importer::hf::is_hf_buffer("bert.embeddings.position_ids"));
  EXPECT_FALSE(smx::importer::hf::is_hf_buffer("bert.embeddings.position_embeddings.weight"));
}

TEST(HfNamesTest, OneOutputClassifierTransposesToAFreshTensor) {
  const at::Tensor hf = torch::randn({1, 8});  // [num_labels = 1, D]: its transpose is contiguous
  const at::Tensor smx = smx::importer::hf::to_smx_layout(hf, Layout::kTransposed);
  EXPECT_EQ(smx.sizes(), (std::vector<int64_t>{8, 1}));
  EXPECT_NE(smx.data_ptr(), hf.data_ptr());
  EXPECT_TRUE(torch::equal(smx.view({8}), hf.view({8})));
}

// One architecture table serves import and export: the parts each architecture's state dict holds.
TEST(HfNamesTest, ArchitectureTableSaysWhichPartsEachHolds) {
  EXPECT_EQ(architectures().size(), 8u);
  const Architecture* mlm = find_architecture("BertForMaskedLM");
  ASSERT_NE(mlm, nullptr);
  EXPECT_FALSE(mlm->holds(Part::kPooler));  // HF's BertForMaskedLM drops the pooler
  EXPECT_TRUE(mlm->holds(Part::kMlm));
  EXPECT_TRUE(find_architecture("FNetForMaskedLM")->holds(Part::kPooler));
  const Architecture* base = find_architecture("FNetModel");
  ASSERT_NE(base, nullptr);
  EXPECT_EQ(base->family, Family::kFNet);
  EXPECT_FALSE(base->prefixed);
  for (const Part p : {Part::kMlm, Part::kNsp, Part::kClassifier}) EXPECT_FALSE(base->holds(p));
  EXPECT_TRUE(find_architecture("BertForPreTraining")->holds(Part::kNsp));
  EXPECT_TRUE(find_architecture("BertForSequenceClassification")->holds(Part::kClassifier));
  EXPECT_EQ(find_architecture("BertForQuestionAnswering"), nullptr);
}

}  // namespace
}  // namespace hf_names_test
