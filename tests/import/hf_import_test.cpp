// smx import hf on tiny HF-named folders made by scripts/make_hf_fixtures.py (every supported
// architecture; safetensors, sharded safetensors and torch.save .bin; with and without the model
// prefix; legacy gamma/beta; fp32/fp16/bf16 storage): last hidden state, pooled output, classifier
// / NSP logits and MLM logits equal an independent fp64 PyTorch forward of the same files
// (tests/import/hf_reference.py) to 1e-5, with padding in the batch. Fine-tuned classifiers get
// task.json; the tokenizer is copied and loads; bad inputs fail naming file and tensor with
// nothing written.
#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>

#include <sys/wait.h>

#include <gtest/gtest.h>
#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include "smx/core/json.h"
#include "smx/import/hf_importer.h"
#include "smx/io/safetensors.h"
#include "smx/model_folder/model_folder.h"
#include "support/run_cli.h"
#include "support/scratch_dir.h"
#include "support/test_util.h"

namespace hf_import_test {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using smx::testing::ScratchDir;

const std::string kSource = SMX_SOURCE_DIR;
const std::string kPython = "/usr/bin/python3";  // Debian's, with python3-torch

std::string run_shell(const std::string& command, int& status) {
  std::string output;
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) {
    status = -1;
    return output;
  }
  std::array<char, 4096> buf{};
  size_t n = 0;
  while ((n = std::fread(buf.data(), 1, buf.size(), pipe)) > 0) output.append(buf.data(), n);
  const int s = ::pclose(pipe);
  status = WIFEXITED(s) ? WEXITSTATUS(s) : -1;
  return output;
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

void spit(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

smx::importer::HfImportOptions hf_options(const std::string& source, const std::string& out) {
  smx::importer::HfImportOptions o;
  o.source = source;
  o.out_dir = out;
  return o;
}

// The fixture folders, made once for the whole suite.
class HfFixtures {
 public:
  static const HfFixtures& get() {
    static HfFixtures fixtures;
    return fixtures;
  }
  std::string folder(const std::string& name) const { return dir_.file(name); }
  bool ok() const { return status_ == 0; }
  const std::string& output() const { return output_; }

 private:
  HfFixtures() {
    output_ = run_shell(kPython + " " + kSource + "/scripts/make_hf_fixtures.py --out " +
                            dir_.path().string() + " --ordered-dict-bin " + dir_.file("ordered"),
                        status_);
  }
  ScratchDir dir_;
  int status_ = -1;
  std::string output_;
};

using smx::testing::tensor_from_json;

// Padded batch: BERT pads with 0 to the longest example (attention mask), FNet pads with 3 to
// max_seq_len = 16 (HF FNet mixes the pads too: the reference gets the same padded ids).
struct Batch {
  std::vector<std::vector<int64_t>> ids, types, mask;
  std::vector<std::vector<int64_t>> mlm_positions = {{1, 2}, {3, 5}};
};

Batch make_batch(bool fnet) {
  Batch b;
  const int64_t pad = fnet ? 3 : 0, length = fnet ? 16 : 9;
  const std::vector<std::vector<int64_t>> rows = {{2, 5, 7, 9, 11, 3},
                                                  {2, 6, 8, 4, 3, 14, 15, 16, 3}};
  const std::vector<int64_t> segment_b_from = {99, 5};
  for (size_t r = 0; r < rows.size(); ++r) {
    std::vector<int64_t> ids(length, pad), types(length, 0), mask(length, 0);
    for (size_t i = 0; i < rows[r].size(); ++i) {
      ids[i] = rows[r][i];
      mask[i] = 1;
      types[i] = static_cast<int64_t>(i) >= segment_b_from[r] ? 1 : 0;
    }
    b.ids.push_back(ids);
    b.types.push_back(types);
    b.mask.push_back(mask);
  }
  return b;
}

at::Tensor to_long(const std::vector<std::vector<int64_t>>& rows) {
  std::vector<int64_t> flat;
  for (const auto& r : rows) flat.insert(flat.end(), r.begin(), r.end());
  return torch::tensor(flat, torch::kLong).view({static_cast<int64_t>(rows.size()), -1});
}

json reference(const std::string& folder, const Batch& b, const ScratchDir& dir, bool fnet) {
  json input = {{"input_ids", b.ids}, {"type_ids", b.types}, {"mlm_positions", b.mlm_positions}};
  if (!fnet) input["attention_mask"] = b.mask;
  const std::string in = dir.write("input.json", input.dump());
  const std::string out = dir.file("expected.json");
  int status = 0;
  const std::string log =
      run_shell(kPython + " " + kSource + "/tests/import/hf_reference.py --model " + folder +
                    " --input " + in + " --out " + out,
                status);
  EXPECT_EQ(status, 0) << log;
  return status == 0 ? smx::parse_json(slurp(out), out) : json();
}

double compare(const std::string& what, const at::Tensor& got, const at::Tensor& want) {
  EXPECT_EQ(got.sizes(), want.sizes()) << what;
  if (got.sizes() != want.sizes()) return 1e9;
  const double diff = (got.to(torch::kDouble) - want).abs().max().item<double>();
  std::printf("    %-34s max |smx - reference| = %.3e\n", what.c_str(), diff);
  EXPECT_LE(diff, 1e-5) << what;
  return diff;
}

struct Case {
  std::string name;
  std::string architecture;
  bool fnet;
  std::string kind;  // "", "classification", "regression"
  int64_t outputs;   // classifier outputs (2 for NSP / absent)
};

class HfImportMatchesReference : public ::testing::TestWithParam<Case> {};

TEST_P(HfImportMatchesReference, OutputsEqualAnIndependentForward) {
  const Case c = GetParam();
  const HfFixtures& fx = HfFixtures::get();
  ASSERT_TRUE(fx.ok()) << fx.output();
  ScratchDir dir;
  const std::string out = dir.file("imported");
  std::ostringstream log;
  smx::importer::HfImportOptions o;
  o.source = fx.folder(c.name);
  o.out_dir = out;
  const auto result = smx::importer::import_hf(o, log);
  std::printf("%s", log.str().c_str());
  EXPECT_EQ(result.info.architecture.name, c.architecture);

  const auto folder = smx::model_folder::ModelFolder::open(out);
  const smx::ModelConfig& config = folder.config();
  EXPECT_EQ(config.model_arch, c.fnet ? "f_net" : "bert");
  EXPECT_EQ(config.embedding_projection, c.fnet);
  EXPECT_EQ(config.hidden_act, c.fnet ? "gelu_tanh" : "gelu_erf");
  EXPECT_EQ(config.max_position_embeddings, 16);
  if (c.kind.empty()) {
    EXPECT_FALSE(folder.task().has_value());
  } else {
    ASSERT_TRUE(folder.task().has_value());
    EXPECT_EQ(smx::model_folder::task_kind_name(folder.task()->kind), c.kind);
    EXPECT_EQ(folder.task()->num_outputs, c.outputs);
  }
  // BERT folders carry vocab.txt, fnet_cls_spiece FNet's spiece.model: copied, recorded, loads.
  EXPECT_EQ(config.tokenizer.empty(), c.fnet && c.name != "fnet_cls_spiece");
  if (!config.tokenizer.empty()) {
    const smx::Tokenizer tok = folder.load_tokenizer();
    EXPECT_EQ(tok.vocab_size(), config.vocab_size);
    EXPECT_EQ(fs::path(config.tokenizer).parent_path(), fs::absolute(out));
  }

  auto model = folder.load_model();
  model->eval();
  const Batch b = make_batch(c.fnet);
  torch::NoGradGuard no_grad;
  const auto got = model->forward(to_long(b.ids), to_long(b.types), to_long(b.mlm_positions));
  const json want = reference(o.source, b, dir, c.fnet);
  ASSERT_TRUE(want.is_object());
  // BERT: the hidden states of real tokens (pad rows differ by design: smx masks pad queries);
  // FNet: every position, pads included.
  const at::Tensor valid = to_long(b.mask).to(torch::kBool).unsqueeze(2);
  const at::Tensor ref_hidden = tensor_from_json(want["hidden"]);
  const at::Tensor hidden = got.encoder.hidden.to(torch::kDouble);
  if (c.fnet)
    compare(c.name + " hidden", hidden, ref_hidden);
  else
    compare(c.name + " hidden (real tokens)", hidden.masked_fill(~valid, 0),
            ref_hidden.masked_fill(~valid, 0));
  if (want.contains("pooled"))
    compare(c.name + " pooled", got.encoder.pooled, tensor_from_json(want["pooled"]));
  if (want.contains("logits"))
    compare(c.name + " logits", got.classification_logits, tensor_from_json(want["logits"]));
  if (want.contains("mlm_logits"))
    compare(c.name + " mlm logits", got.mlm_logits, tensor_from_json(want["mlm_logits"]));
}

INSTANTIATE_TEST_SUITE_P(
    Architectures, HfImportMatchesReference,
    ::testing::Values(
        Case{"bert_model_st", "BertModel", false, "", 2},
        Case{"bert_pretraining_bin", "BertForPreTraining", false, "", 2},
        Case{"bert_mlm_legacy_st", "BertForMaskedLM", false, "", 2},
        Case{"bert_cls_sharded", "BertForSequenceClassification", false, "classification", 3},
        Case{"bert_cls_st", "BertForSequenceClassification", false, "classification", 2},
        Case{"bert_regression_bin", "BertForSequenceClassification", false, "regression", 1},
        Case{"fnet_model_bin", "FNetModel", true, "", 2},
        Case{"fnet_pretraining_st", "FNetForPreTraining", true, "", 2},
        Case{"fnet_mlm_st", "FNetForMaskedLM", true, "", 2},
        Case{"fnet_cls_sharded", "FNetForSequenceClassification", true, "classification", 2},
        Case{"fnet_cls_spiece", "FNetForSequenceClassification", true, "classification", 2}),
    [](const ::testing::TestParamInfo<Case>& info) { return info.param.name; });

TEST(HfImportTest, ClassifierLabelsAndInitialisedHeadsAreRecorded) {
  const HfFixtures& fx = HfFixtures::get();
  ASSERT_TRUE(fx.ok()) << fx.output();
  ScratchDir dir;
  std::ostringstream log;
  const auto r =
      smx::importer::import_hf(hf_options(fx.folder("bert_cls_sharded"), dir.file("o")), log);
  const json task = smx::parse_json(slurp(dir.file("o/task.json")), "task.json");
  EXPECT_EQ(task["labels"], json({"negative", "neutral", "positive"}));
  EXPECT_EQ(task["kind"], "classification");
  EXPECT_EQ(task["task"], "hf:BertForSequenceClassification");
  // The classifier has no MLM head: those smx tensors are fresh, and listed.
  EXPECT_FALSE(r.initialized.empty());
  for (const auto& name : r.initialized) EXPECT_EQ(name.rfind("mlm.", 0), 0u) << name;
  const auto file = smx::io::read_safetensors(dir.file("o/model.safetensors"));
  EXPECT_NE(file.metadata.at(smx::importer::kImportInitializedKey).find("mlm.dense.kernel"),
            std::string::npos);
  EXPECT_NE(log.str().find("sharded safetensors (2 files)"), std::string::npos) << log.str();
  // A regression model has one output and no labels.
  const auto reg =
      smx::importer::import_hf(hf_options(fx.folder("bert_regression_bin"), dir.file("r")), log);
  EXPECT_TRUE(reg.info.regression);
  const json rtask = smx::parse_json(slurp(dir.file("r/task.json")), "task.json");
  EXPECT_EQ(rtask["kind"], "regression");
  EXPECT_FALSE(rtask.contains("labels"));
}

// smx's three-segment inputs (COPA's premise / choice / question) need type id 2; an imported
// BERT has 2 types: a clear error, not an embedding lookup failure.
TEST(HfImportTest, TypeIdsBeyondTheModelsTypesAreNamed) {
  const HfFixtures& fx = HfFixtures::get();
  ASSERT_TRUE(fx.ok()) << fx.output();
  ScratchDir dir;
  std::ostringstream log;
  smx::importer::import_hf(hf_options(fx.folder("bert_model_st"), dir.file("m")), log);
  auto model = smx::model_folder::ModelFolder::open(dir.file("m")).load_model();
  const at::Tensor ids = torch::full({1, 4}, 5, torch::kLong);
  torch::NoGradGuard no_grad;
  smx::testing::expect_error(
      [&] {
        model->forward(ids, torch::full({1, 4}, 2, torch::kLong));
      },
      "type_vocab_size = 2");
  EXPECT_NO_THROW(model->forward(ids, torch::ones({1, 4}, torch::kLong)));
}

TEST(HfImportTest, CommandLineImportsAndInfoReadsTheFolder) {
  const HfFixtures& fx = HfFixtures::get();
  ASSERT_TRUE(fx.ok()) << fx.output();
  ScratchDir dir;
  const auto r =
      smx::testing::run_smx("import hf " + fx.folder("bert_cls_st") + " --out " + dir.file("m"));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("BertForSequenceClassification"), std::string::npos) << r.output;
  const auto info = smx::testing::run_smx("info " + dir.file("m"));
  EXPECT_EQ(info.status, 0) << info.output;
}

// Copies fixture `name` into `dir/<copy>` for a test to damage.
std::string copy_fixture(const std::string& name, const ScratchDir& dir, const std::string& copy) {
  const std::string to = dir.file(copy);
  fs::copy(HfFixtures::get().folder(name), to, fs::copy_options::recursive);
  return to;
}

void expect_import_error(const std::string& source, const ScratchDir& dir,
                         const std::vector<std::string>& needles) {
  const std::string out = dir.file("out");
  std::ostringstream log;
  try {
    smx::importer::import_hf(hf_options(source, out), log);
    ADD_FAILURE() << source << ": expected an error";
  } catch (const smx::Error& e) {
    std::printf("    error: %s\n", e.what());
    for (const auto& needle : needles)
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos)
          << "error: " << e.what() << "\nexpected to contain: " << needle;
  }
  EXPECT_FALSE(fs::exists(out)) << out << " was written";
  for (const auto& e : fs::directory_iterator(dir.path()))
    EXPECT_EQ(e.path().filename().string().find(".import-tmp-"), std::string::npos)
        << "left behind: " << e.path();
}

void edit_config(const std::string& folder, const std::function<void(json&)>& edit) {
  const std::string path = folder + "/config.json";
  json j = smx::parse_json(slurp(path), path);
  edit(j);
  spit(path, j.dump(2));
}

TEST(HfImportTest, BadInputsFailNamingFileAndTensorAndWriteNothing) {
  const HfFixtures& fx = HfFixtures::get();
  ASSERT_TRUE(fx.ok()) << fx.output();
  ScratchDir dir;
  {  // unknown architecture
    const auto f = copy_fixture("bert_cls_st", dir, "arch");
    edit_config(f, [](json& j) { j["architectures"] = {"BertForTokenClassification"}; });
    expect_import_error(f, dir, {"config.json", "BertForTokenClassification", "not supported"});
  }
  {  // unknown model_type
    const auto f = copy_fixture("bert_model_st", dir, "type");
    edit_config(f, [](json& j) { j["model_type"] = "roberta"; });
    expect_import_error(f, dir, {"config.json", "model_type \"roberta\""});
  }
  {  // no weights file
    const auto f = copy_fixture("bert_model_st", dir, "noweights");
    fs::remove(f + "/model.safetensors");
    expect_import_error(f, dir, {"noweights", "no weights file"});
  }
  {  // a tensor of the wrong shape for config.json
    const auto f = copy_fixture("bert_model_st", dir, "shape");
    edit_config(f, [](json& j) { j["intermediate_size"] = 24; });
    expect_import_error(
        f, dir,
        {"model.safetensors", "encoder.layer.0.intermediate.dense.weight", "[32, 16]", "[24, 16]"});
  }
  {  // an index naming a missing shard
    const auto f = copy_fixture("bert_cls_sharded", dir, "shard");
    fs::remove(f + "/model-00002-of-00002.safetensors");
    expect_import_error(
        f, dir, {"model.safetensors.index.json", "model-00002-of-00002.safetensors", "missing"});
  }
  {  // a vocabulary of another size than the embeddings
    const auto f = copy_fixture("bert_model_st", dir, "vocab");
    std::ofstream(f + "/vocab.txt", std::ios::app) << "extra1\nextra2\n";
    expect_import_error(f, dir,
                        {"vocab.txt", "embeddings.word_embeddings.weight", "62 pieces", "60 rows"});
  }
  {  // a tensor missing from the file
    const auto f = copy_fixture("bert_model_st", dir, "layers");
    edit_config(f, [](json& j) { j["num_hidden_layers"] = 3; });
    expect_import_error(f, dir,
                        {"model.safetensors", "encoder.layer.2.attention.self.query.weight"});
  }
  {  // HF's own OrderedDict pytorch_model.bin: LibTorch 1.13 cannot read it; the message says so
    const auto f = copy_fixture("bert_model_st", dir, "ordered");
    fs::remove(f + "/model.safetensors");
    fs::copy_file(fx.folder("ordered") + "/pytorch_model.bin", f + "/pytorch_model.bin");
    expect_import_error(f, dir, {"pytorch_model.bin", "OrderedDict", "hf_bin_to_safetensors.py"});
  }
  {  // --out exists
    const auto f = fx.folder("bert_model_st");
    const std::string out = dir.file("taken");
    fs::create_directories(out);
    spit(out + "/x", "x");
    std::ostringstream log;
    smx::testing::expect_error([&] { smx::importer::import_hf(hf_options(f, out), log); },
                               "already exists");
  }
}

}  // namespace
}  // namespace hf_import_test
