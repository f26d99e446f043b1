// smx export hf: tiny BERT- and FNet-shaped smx folders exported, every tensor compared bit for bit
// with the original under the name table's layout, the folder checked by an independent Python
// loader (tests/import/hf_export_check.py: names, shapes, dtypes, config, tokenizer files) whose
// forward (tests/import/hf_reference.py) must equal smx's; the refusal of architectures Hugging
// Face has no counterpart for; output-folder rules (nothing written on failure, --force).
#include "smx/import/hf_export.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include "smx/config/model_config.h"
#include "smx/core/error.h"
#include "smx/core/json.h"
#include "smx/import/hf_importer.h"
#include "smx/import/hf_names.h"
#include "smx/io/safetensors.h"
#include "smx/io/text_file.h"
#include "smx/model_folder/model_folder.h"
#include "support/model_folder.h"
#include "support/run_cli.h"
#include "support/scratch_dir.h"
#include "support/test_util.h"
#include "support/tiny_tokenizer.h"

namespace smx::importer {
namespace hf_export_test {

namespace fs = std::filesystem;
using json = nlohmann::json;
using ::testing::HasSubstr;

const std::string kSource = SMX_SOURCE_DIR;
const std::string kPython = "/usr/bin/python3";  // Debian's, with python3-torch

const std::vector<std::string> kVocab = {
    "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the",  "cat", "sat", "on",    "mat",
    "a",     "dog",   "ran",   "##s",   "##ed",   ",",    ".",   "!",   "hello", "world",
    "big",   "small", "red",   "blue",  "green",  "tree", "sky", "sun", "moon",  "star",
    "one",   "two",   "three", "four",  "five",   "six",  "and", "or",  "not",   "is"};

// A tiny BERT-shaped folder (no embedding projection, exact GELU) with a WordPiece vocab.txt.
std::string write_bert_folder(const testing::ScratchDir& dir, const std::string& name,
                              const std::string& task_json = "", int64_t outputs = 2) {
  const std::string folder = dir.file(name);
  fs::create_directories(folder + "/tok");
  std::string vocab;
  for (const auto& p : kVocab) vocab += p + "\n";
  dir.write(name + "/tok/vocab.txt", vocab);
  ModelConfig c = load_model_config(
      "bert-demo", {"vocab_size=" + std::to_string(kVocab.size()), "d_emb=32", "d_model=32",
                    "d_ff=64", "num_heads=4", "num_layers=2", "num_attention_layers=2",
                    "max_seq_len=16", "max_position_embeddings=20", "type_vocab_size=2",
                    "embedding_projection=false", "hidden_act=gelu_erf", "layer_norm_eps=1e-12"});
  c.tokenizer = folder + "/tok/vocab.txt";
  testing::write_model_folder(folder, c, task_json, outputs, 11);
  return folder;
}

// A tiny FNet-shaped folder with the FNet SentencePiece fixture.
std::string write_fnet_folder(const testing::ScratchDir& dir, const std::string& name,
                              const std::string& task_json = "", int64_t outputs = 2) {
  const std::string folder = dir.file(name);
  fs::create_directories(folder + "/tok");
  const std::string fixture = kSource + "/tests/tokenizer/fixtures/fnet_tiny";
  fs::copy_file(fixture + "/spiece.model", folder + "/tok/spiece.model");
  fs::copy_file(fixture + "/tokenizer_config.json", folder + "/tok/tokenizer_config.json");
  ModelConfig c = load_model_config(
      "bert-demo", {"model_arch=f_net", "num_attention_layers=0", "vocab_size=110", "d_emb=32",
                    "d_model=32", "d_ff=64", "num_heads=4", "num_layers=2", "max_seq_len=12",
                    "type_vocab_size=4", "hidden_act=gelu_tanh", "layer_norm_eps=1e-12"});
  c.tokenizer = folder + "/tok/spiece.model";
  testing::write_model_folder(folder, c, task_json, outputs, 13);
  return folder;
}

std::map<std::string, at::Tensor> tensors_of(const std::string& file) {
  std::map<std::string, at::Tensor> out;
  for (auto& t : io::read_safetensors(file).tensors) out.emplace(t.name, t.tensor.clone());
  return out;
}

// Every exported tensor is the smx tensor in HF's layout, bit for bit; returns how many.
int expect_tensors_match(const std::string& smx_dir, const std::string& hf_dir, hf::Family family,
                         int64_t layers, bool prefixed) {
  const auto smx = tensors_of(smx_dir + "/model.safetensors");
  const auto exported = tensors_of(hf_dir + "/model.safetensors");
  int matched = 0;
  for (const auto& row : hf::name_table(family, layers)) {
    std::string name = row.hf;
    const std::string prefix = hf::family_prefix(family);
    if (!prefixed && name.rfind(prefix, 0) == 0) name = name.substr(prefix.size());
    const auto it = exported.find(name);
    if (it == exported.end()) continue;  // a head this architecture has no place for
    const at::Tensor want = hf::to_hf_layout(smx.at(row.smx), row.layout);
    EXPECT_TRUE(torch::equal(it->second, want)) << name << " differs from " << row.smx;
    ++matched;
  }
  EXPECT_EQ(matched, static_cast<int>(exported.size())) << "exported tensors outside the table";
  return matched;
}

testing::CliResult export_test_shell(const std::string& command) {
  testing::CliResult r;
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (!pipe) return r;
  char buffer[4096];
  size_t n = 0;
  while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) r.output.append(buffer, n);
  const int status = ::pclose(pipe);
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

struct Batch {
  std::vector<std::vector<int64_t>> ids, types, mask;
  std::vector<int64_t> lengths;
};

// Runs the Python check (and its forward with `batch`) on an exported folder.
json python_check(const testing::ScratchDir& dir, const std::string& hf_dir, const Batch& batch,
                  std::vector<int64_t> mlm_positions = {}) {
  json input = {
      {"input_ids", batch.ids}, {"type_ids", batch.types}, {"attention_mask", batch.mask}};
  if (!mlm_positions.empty())
    input["mlm_positions"] = std::vector<std::vector<int64_t>>(batch.ids.size(), mlm_positions);
  const std::string in = dir.write("check_in.json", input.dump());
  const std::string out = dir.file("check_out.json");
  const auto r =
      export_test_shell(kPython + " " + kSource + "/tests/import/hf_export_check.py --dir " +
                        hf_dir + " --input " + in + " --out " + out);
  EXPECT_EQ(r.status, 0) << r.output;
  if (r.status != 0) return json();
  return parse_json(io::read_text_file(out), out);
}

at::Tensor ids_tensor(const std::vector<std::vector<int64_t>>& rows) {
  std::vector<at::Tensor> t;
  for (const auto& r : rows) t.push_back(torch::tensor(r, torch::kLong));
  return torch::stack(t);
}

// max |smx - reference| over the real tokens of [B, N, D] hidden states.
double hidden_diff(const at::Tensor& hidden, const json& reference, const Batch& batch) {
  double worst = 0;
  for (size_t b = 0; b < batch.ids.size(); ++b)
    for (int64_t n = 0; n < batch.lengths[b]; ++n) {
      const auto want = reference[b][n].get<std::vector<double>>();
      const at::Tensor got = hidden[static_cast<int64_t>(b)][n].to(torch::kDouble);
      worst =
          std::max(worst, (got - torch::tensor(want, torch::kDouble)).abs().max().item<double>());
    }
  return worst;
}

double rows_diff(const at::Tensor& rows, const json& reference) {
  const auto want = reference.get<std::vector<std::vector<double>>>();
  double worst = 0;
  for (size_t b = 0; b < want.size(); ++b)
    worst = std::max(worst, (rows[static_cast<int64_t>(b)].to(torch::kDouble) -
                             torch::tensor(want[b], torch::kDouble))
                                .abs()
                                .max()
                                .item<double>());
  return worst;
}

TEST(HfExport, BertForPreTrainingMatchesHfLayoutAndForward) {
  testing::ScratchDir dir;
  const std::string smx_dir = write_bert_folder(dir, "bert");
  const std::string hf_dir = dir.file("bert-hf");
  const HfExportReport report = export_hf(smx_dir, hf_dir);
  EXPECT_EQ(report.architecture, "BertForPreTraining");
  EXPECT_TRUE(report.dropped.empty());
  const int matched = expect_tensors_match(smx_dir, hf_dir, hf::Family::kBert, 2, true);
  const json config = parse_json(io::read_text_file(hf_dir + "/config.json"), "config.json");
  EXPECT_EQ(config["model_type"], "bert");
  EXPECT_EQ(config["hidden_act"], "gelu");
  EXPECT_EQ(config["max_position_embeddings"], 20);
  EXPECT_EQ(io::read_text_file(hf_dir + "/vocab.txt"),
            io::read_text_file(smx_dir + "/tok/vocab.txt"));

  // Two inputs, the second padded (BERT's attention mask).
  Batch batch;
  batch.ids = {{2, 5, 6, 7, 8, 5, 9, 3}, {2, 11, 12, 16, 3, 0, 0, 0}};
  batch.types = {{0, 0, 0, 0, 1, 1, 1, 1}, {0, 0, 0, 0, 0, 0, 0, 0}};
  batch.mask = {{1, 1, 1, 1, 1, 1, 1, 1}, {1, 1, 1, 1, 1, 0, 0, 0}};
  batch.lengths = {8, 5};
  const json ref = python_check(dir, hf_dir, batch, {1, 3});
  ASSERT_TRUE(ref.is_object());
  const auto model = model_folder::ModelFolder::open(smx_dir).load_model();
  torch::NoGradGuard no_grad;
  const auto out = model->forward(ids_tensor(batch.ids), ids_tensor(batch.types),
                                  torch::tensor({1, 3}, torch::kLong).repeat({2, 1}));
  const double hidden = hidden_diff(out.encoder.hidden, ref["hidden"], batch);
  const double pooled = rows_diff(out.encoder.pooled, ref["pooled"]);
  const double logits = rows_diff(out.classification_logits, ref["logits"]);
  double mlm = 0;
  for (int64_t b = 0; b < 2; ++b)
    for (int64_t p = 0; p < 2; ++p)
      mlm = std::max(
          mlm, (out.mlm_logits[b][p].to(torch::kDouble) -
                torch::tensor(ref["mlm_logits"][b][p].get<std::vector<double>>(), torch::kDouble))
                   .abs()
                   .max()
                   .item<double>());
  std::printf(
      "BERT export: %d tensors bit-exact; smx vs independent HF forward on the export: hidden "
      "%.3g, pooled %.3g, NSP logits %.3g, MLM logits %.3g\n",
      matched, hidden, pooled, logits, mlm);
  EXPECT_LE(hidden, 1e-4);
  EXPECT_LE(pooled, 1e-4);
  EXPECT_LE(logits, 1e-4);
  EXPECT_LE(mlm, 1e-4);
}

TEST(HfExport, FNetClassifierMatchesHfLayoutAndForward) {
  testing::ScratchDir dir;
  const std::string smx_dir =
      write_fnet_folder(dir, "fnet",
                        R"({"task": "toy", "num_outputs": 3, "labels": ["neg", "neutral", "pos"],)"
                        R"( "kind": "classification"})",
                        3);
  const std::string hf_dir = dir.file("fnet-hf");
  const HfExportReport report = export_hf(smx_dir, hf_dir);
  EXPECT_EQ(report.architecture, "FNetForSequenceClassification");
  EXPECT_FALSE(report.dropped.empty()) << "the MLM head has no place in a classifier";
  const int matched = expect_tensors_match(smx_dir, hf_dir, hf::Family::kFNet, 2, true);
  const json config = parse_json(io::read_text_file(hf_dir + "/config.json"), "config.json");
  EXPECT_EQ(config["id2label"], (json{{"0", "neg"}, {"1", "neutral"}, {"2", "pos"}}));
  EXPECT_EQ(config["label2id"], (json{{"neg", 0}, {"neutral", 1}, {"pos", 2}}));
  EXPECT_EQ(config["hidden_act"], "gelu_new");
  const json tc =
      parse_json(io::read_text_file(hf_dir + "/tokenizer_config.json"), "tokenizer_config");
  EXPECT_EQ(tc["tokenizer_class"], "FNetTokenizer");
  EXPECT_EQ(tc["keep_accents"], true);
  EXPECT_EQ(io::read_text_file(hf_dir + "/spiece.model"),
            io::read_text_file(smx_dir + "/tok/spiece.model"));

  // Full-length inputs (max_seq_len 12): FNet mixes the whole sequence, with no mask.
  Batch batch;
  batch.ids = {{2, 20, 21, 22, 23, 24, 3, 25, 26, 27, 28, 3},
               {2, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 3}};
  batch.types = {{0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1}, std::vector<int64_t>(12, 0)};
  batch.mask = {std::vector<int64_t>(12, 1), std::vector<int64_t>(12, 1)};
  batch.lengths = {12, 12};
  const json ref = python_check(dir, hf_dir, batch);
  ASSERT_TRUE(ref.is_object());
  const auto model = model_folder::ModelFolder::open(smx_dir).load_model();
  torch::NoGradGuard no_grad;
  const auto out = model->forward(ids_tensor(batch.ids), ids_tensor(batch.types));
  const double hidden = hidden_diff(out.encoder.hidden, ref["hidden"], batch);
  const double pooled = rows_diff(out.encoder.pooled, ref["pooled"]);
  const double logits = rows_diff(out.classification_logits, ref["logits"]);
  std::printf(
      "FNet export: %d tensors bit-exact; smx vs independent HF forward on the export: hidden "
      "%.3g, pooled %.3g, classifier logits %.3g\n",
      matched, hidden, pooled, logits);
  EXPECT_LE(hidden, 1e-4);
  EXPECT_LE(pooled, 1e-4);
  EXPECT_LE(logits, 1e-4);
}

TEST(HfExport, ArchitecturesWithoutAHuggingFaceCounterpartAreRefused) {
  testing::ScratchDir dir;
  const std::string sm = dir.file("sm");
  testing::write_model_folder(sm, testing::tiny_config("linear"));
  const std::string out = dir.file("sm-hf");
  try {
    export_hf(sm, out);
    FAIL() << "a Sparse Mixer was exported";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("Mixture-of-Experts"));
    EXPECT_THAT(e.what(), HasSubstr("linear mixing"));
  }
  EXPECT_FALSE(fs::exists(out));
  // BERT with the paper's embedding projection; FNet with attention layers.
  ModelConfig bert =
      load_model_config("bert-demo", {"vocab_size=40", "d_model=32", "d_emb=16", "d_ff=64",
                                      "num_layers=2", "num_attention_layers=2", "max_seq_len=16"});
  EXPECT_THAT(hf_export_refusal(bert), HasSubstr("hidden_mapping_in"));
  ModelConfig fnet = load_model_config(
      "bert-demo", {"model_arch=f_net", "num_attention_layers=1", "vocab_size=40", "d_model=32",
                    "d_emb=32", "d_ff=64", "num_layers=2", "max_seq_len=16"});
  EXPECT_THAT(hf_export_refusal(fnet), HasSubstr("attention layers"));
  // The CLI says the same and exits non-zero.
  const auto r = testing::run_smx("export hf " + sm + " --out " + out);
  EXPECT_NE(r.status, 0);
  EXPECT_THAT(r.output, HasSubstr("Mixture-of-Experts"));
  EXPECT_FALSE(fs::exists(out));
}

TEST(HfExport, OutputFolderRulesAndArchitectureChoice) {
  testing::ScratchDir dir;
  const std::string smx_dir = write_bert_folder(dir, "bert");
  const std::string out = dir.file("out");
  fs::create_directories(out);
  dir.write("out/keep.txt", "mine");
  testing::expect_error([&] { export_hf(smx_dir, out); }, "--force");
  EXPECT_EQ(io::read_text_file(out + "/keep.txt"), "mine");
  HfExportOptions o;
  o.force = true;
  o.architecture = "BertModel";
  const auto report = export_hf(smx_dir, out, o);
  EXPECT_FALSE(fs::exists(out + "/keep.txt"));
  EXPECT_EQ(report.dropped.size(), 7u) << "the MLM head (5 tensors) and NSP head (2) are dropped";
  // A bare BertModel stores its tensors without the "bert." prefix.
  expect_tensors_match(smx_dir, out, hf::Family::kBert, 2, false);
  for (const auto& entry : fs::directory_iterator(dir.path()))
    EXPECT_EQ(entry.path().filename().string().find(".export-"), std::string::npos)
        << "left behind: " << entry.path();
  o.architecture = "FNetModel";
  testing::expect_error([&] { export_hf(smx_dir, dir.file("x"), o); }, "BertForMaskedLM");
  o.architecture = "BertForSequenceClassification";
  testing::expect_error([&] { export_hf(smx_dir, dir.file("x"), o); }, "task.json");
  EXPECT_FALSE(fs::exists(dir.file("x")));
  // The CLI on BertForMaskedLM: no pooler, no NSP head.
  const auto r = testing::run_smx("export hf " + smx_dir + " --out " + dir.file("mlm") +
                                  " --architecture BertForMaskedLM");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("BertForMaskedLM"));
  const auto mlm = tensors_of(dir.file("mlm") + "/model.safetensors");
  EXPECT_EQ(mlm.count("bert.pooler.dense.weight"), 0u);
  EXPECT_EQ(mlm.count("cls.seq_relationship.weight"), 0u);
  EXPECT_EQ(mlm.count("cls.predictions.bias"), 1u);
}

}  // namespace hf_export_test
}  // namespace smx::importer

namespace smx::importer {
namespace hf_export_test {

// Everything of an smx folder that must survive a round trip: tensors, config (but the tokenizer's
// path), task.json's kind and labels, the tokenizer's bytes.
void expect_same_smx_folders(const std::string& a, const std::string& b) {
  const auto ta = tensors_of(a + "/model.safetensors");
  const auto tb = tensors_of(b + "/model.safetensors");
  ASSERT_EQ(ta.size(), tb.size());
  for (const auto& [name, tensor] : ta) {
    ASSERT_EQ(tb.count(name), 1u) << name;
    EXPECT_TRUE(torch::equal(tensor, tb.at(name))) << name << " differs after the round trip";
  }
  const auto fa = model_folder::ModelFolder::open(a), fb = model_folder::ModelFolder::open(b);
  json ca = fa.config().to_json(), cb = fb.config().to_json();
  EXPECT_EQ(io::read_text_file(fa.config().tokenizer), io::read_text_file(fb.config().tokenizer));
  ca.erase("tokenizer");
  cb.erase("tokenizer");
  EXPECT_EQ(ca, cb);
  ASSERT_EQ(fa.task().has_value(), fb.task().has_value());
  if (fa.task()) {
    EXPECT_EQ(fa.task()->kind, fb.task()->kind);
    EXPECT_EQ(fa.task()->labels, fb.task()->labels);
    EXPECT_EQ(fa.task()->num_outputs, fb.task()->num_outputs);
  }
}

TEST(HfExportRoundTrip, ImportExportImportIsBitExact) {
  testing::ScratchDir dir;
  const std::string bert = write_bert_folder(
      dir, "bert", R"({"task": "toy", "num_outputs": 2, "labels": ["no", "yes"]})", 2);
  const std::string fnet = write_fnet_folder(dir, "fnet");
  // The BERT folder embeds like a sentence-transformers model: exported as modules.json etc.,
  // read back into embedding.json.
  model_folder::EmbeddingDefaults st;
  st.pooling = "mean";
  st.normalize = true;
  model_folder::ModelFolder::write_embedding_defaults(bert, st);
  int folders = 0;
  for (const std::string& smx0 : {bert, fnet}) {
    const std::string name = fs::path(smx0).filename().string();
    std::ostringstream log;
    // An HF folder to start from, imported, exported and imported again.
    export_hf(smx0, dir.file(name + "-hf0"));
    HfImportOptions o;
    o.source = dir.file(name + "-hf0");
    o.out_dir = dir.file(name + "-smx1");
    import_hf(o, log);
    export_hf(o.out_dir, dir.file(name + "-hf1"));
    o.source = dir.file(name + "-hf1");
    o.out_dir = dir.file(name + "-smx2");
    import_hf(o, log);
    expect_same_smx_folders(dir.file(name + "-smx1"), dir.file(name + "-smx2"));
    const auto e1 = model_folder::ModelFolder::open(dir.file(name + "-smx1")).embedding();
    const auto e2 = model_folder::ModelFolder::open(dir.file(name + "-smx2")).embedding();
    ASSERT_EQ(e1.has_value(), smx0 == bert);
    ASSERT_EQ(e2.has_value(), smx0 == bert);
    if (e1) {
      EXPECT_EQ(e1->pooling, "mean");
      EXPECT_TRUE(e1->normalize);
      EXPECT_EQ(to_json(*e1), to_json(*e2));
    }
    // The two HF folders agree too: tensors and config.json.
    const auto h0 = tensors_of(dir.file(name + "-hf0") + "/model.safetensors");
    const auto h1 = tensors_of(dir.file(name + "-hf1") + "/model.safetensors");
    ASSERT_EQ(h0.size(), h1.size());
    for (const auto& [n, t] : h0) EXPECT_TRUE(torch::equal(t, h1.at(n))) << n;
    EXPECT_EQ(parse_json(io::read_text_file(dir.file(name + "-hf0") + "/config.json"), "hf0"),
              parse_json(io::read_text_file(dir.file(name + "-hf1") + "/config.json"), "hf1"));
    ++folders;
  }
  std::printf("round trip import -> export -> import bit-exact for %d folders (BERT, FNet)\n",
              folders);
}

TEST(HfExportRoundTrip, ASentenceTransformersModuleSmxCannotRunStopsTheImport) {
  testing::ScratchDir dir;
  const std::string bert = write_bert_folder(dir, "bert");
  model_folder::EmbeddingDefaults st;
  st.pooling = "cls_token";
  model_folder::ModelFolder::write_embedding_defaults(bert, st);
  const std::string hf_dir = dir.file("hf");
  const auto report = export_hf(bert, hf_dir);
  EXPECT_NE(std::find(report.files.begin(), report.files.end(), "modules.json"),
            report.files.end());
  json modules = parse_json(io::read_text_file(hf_dir + "/modules.json"), "modules.json");
  EXPECT_EQ(modules.size(), 2u) << "no Normalize module without normalisation";
  modules.push_back({{"idx", 2},
                     {"name", "2"},
                     {"path", "2_Dense"},
                     {"type", "sentence_transformers.models.Dense"}});
  io::write_file_atomically(hf_dir + "/modules.json", modules.dump());
  HfImportOptions o;
  o.source = hf_dir;
  o.out_dir = dir.file("smx");
  std::ostringstream log;
  testing::expect_error([&] { import_hf(o, log); }, "sentence_transformers.models.Dense");
  EXPECT_FALSE(fs::exists(o.out_dir));
}

// A BERT-shaped model trained by smx (its own SentencePiece model, no tokenizer_config.json):
// exported with FNetTokenizer files and a note, and the folder passes the Python check.
TEST(HfExport, AnSmxTrainedBertShapedModelExportsWithItsSentencePieceModel) {
  testing::ScratchDir dir;
  const auto tok = testing::tiny_tokenizer();
  ModelConfig c = load_model_config(
      "bert-demo", {"vocab_size=" + std::to_string(tok->vocab_size()), "d_emb=32", "d_model=32",
                    "d_ff=64", "num_heads=4", "num_layers=2", "num_attention_layers=2",
                    "max_seq_len=16", "embedding_projection=false"});
  c.tokenizer = tok->path();
  const std::string smx_dir = dir.file("smx-bert");
  testing::write_model_folder(smx_dir, c);
  const std::string hf_dir = dir.file("smx-bert-hf");
  const auto report = export_hf(smx_dir, hf_dir);
  EXPECT_EQ(report.architecture, "BertForPreTraining");
  bool noted = false;
  for (const auto& n : report.notes) noted |= n.find("trained by smx") != std::string::npos;
  EXPECT_TRUE(noted) << "the note on FNetTokenizer's preprocessing is missing";
  const json tc =
      parse_json(io::read_text_file(hf_dir + "/tokenizer_config.json"), "tokenizer_config");
  EXPECT_EQ(tc["cls_token"], "[CLS]");
  EXPECT_EQ(tc["pad_token"], tok->id_to_piece(tok->pad_id()));
  const json config = parse_json(io::read_text_file(hf_dir + "/config.json"), "config.json");
  EXPECT_EQ(config["hidden_act"], "gelu_new") << "smx's default GELU is the tanh form";
  Batch batch;
  const auto ids = tok->encode("the cat reads");
  batch.ids = {{tok->cls_id()}};
  batch.ids[0].insert(batch.ids[0].end(), ids.begin(), ids.end());
  batch.ids[0].push_back(tok->sep_id());
  batch.types = {std::vector<int64_t>(batch.ids[0].size(), 0)};
  batch.mask = {std::vector<int64_t>(batch.ids[0].size(), 1)};
  batch.lengths = {static_cast<int64_t>(batch.ids[0].size())};
  const json ref = python_check(dir, hf_dir, batch);
  ASSERT_TRUE(ref.is_object());
  const auto model = model_folder::ModelFolder::open(smx_dir).load_model();
  torch::NoGradGuard no_grad;
  const auto out = model->forward(ids_tensor(batch.ids), ids_tensor(batch.types));
  const double hidden = hidden_diff(out.encoder.hidden, ref["hidden"], batch);
  std::printf("smx-trained BERT export: smx vs independent HF forward, hidden %.3g\n", hidden);
  EXPECT_LE(hidden, 1e-4);
}

}  // namespace hf_export_test
}  // namespace smx::importer
