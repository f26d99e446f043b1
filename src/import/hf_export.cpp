#include "smx/import/hf_export.h"

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <optional>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "smx/config/mixing_kinds.h"
#include "smx/core/error.h"
#include "smx/import/hf_config.h"
#include "smx/import/hf_importer.h"
#include "smx/import/hf_names.h"
#include "smx/io/safetensors.h"
#include "smx/io/text_file.h"
#include "smx/model_folder/model_folder.h"
#include "smx/tokenizer/hf_sentencepiece.h"
#include "smx/tokenizer/tokenizer.h"
#include "smx/tokenizer/wordpiece.h"

namespace smx::importer {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

// What an HF architecture holds besides the encoder, and whether its base-model tensors carry the
// family prefix ("bert.", "fnet.") in its state dict.
std::string hf_export_layer_list(const std::vector<int64_t>& layers) {
  std::string s;
  for (const int64_t l : layers) s += (s.empty() ? "" : ", ") + std::to_string(l);
  return s;
}

// HF's config.json: hf_config_keys (the one mapping of smx keys to HF's, shared with the import)
// plus the architecture and the classifier's labels.
json hf_export_config(const ModelConfig& c, const hf::Architecture& arch,
                      const std::optional<model_folder::TaskInfo>& task,
                      const std::string& torch_dtype) {
  json j = hf::hf_config_keys(c, arch.family);
  j["architectures"] = {arch.name};
  j["torch_dtype"] = torch_dtype;
  if (arch.family == hf::Family::kBert) j["classifier_dropout"] = nullptr;
  if (arch.classifier && task) {
    json id2label = json::object(), label2id = json::object();
    for (int64_t i = 0; i < task->num_outputs; ++i) {
      const auto k = static_cast<size_t>(i);
      const std::string label =
          k < task->labels.size() ? task->labels[k] : fmt::format("LABEL_{}", i);
      id2label[std::to_string(i)] = label;
      label2id[label] = i;
    }
    j["id2label"] = id2label;
    j["label2id"] = label2id;
    j["problem_type"] = task->has_classes() ? "single_label_classification" : "regression";
  }
  return j;
}

// The smx tensors an import drew fresh because the HF architecture lacked them (metadata
// smx.import.initialized, comma-separated); they are not exported by default.
std::set<std::string> hf_export_initialized(const io::SafetensorsFile& file) {
  std::set<std::string> out;
  const auto it = file.metadata.find(kImportInitializedKey);
  if (it == file.metadata.end()) return out;
  size_t start = 0;
  while (start <= it->second.size()) {
    const size_t comma = std::min(it->second.find(',', start), it->second.size());
    if (comma > start) out.insert(it->second.substr(start, comma - start));
    start = comma + 1;
  }
  return out;
}

bool hf_export_any_with_prefix(const std::set<std::string>& names, const std::string& prefix) {
  for (const auto& n : names)
    if (n.rfind(prefix, 0) == 0) return true;
  return false;
}

json hf_export_special_tokens(const Tokenizer& tok) {
  return {{"unk_token", tok.id_to_piece(tok.unk_id())},
          {"sep_token", tok.id_to_piece(tok.sep_id())},
          {"pad_token", tok.id_to_piece(tok.pad_id())},
          {"cls_token", tok.id_to_piece(tok.cls_id())},
          {"mask_token", tok.id_to_piece(tok.mask_id())}};
}

// Writes the tokenizer files into `dir`; returns their names.
std::vector<std::string> hf_export_tokenizer(const Tokenizer& tok, const ModelConfig& c,
                                             const std::string& dir,
                                             std::vector<std::string>& notes) {
  const json specials = hf_export_special_tokens(tok);
  json config = specials;
  config["model_max_length"] = c.max_seq_len;
  std::vector<std::string> files;
  if (const WordPiece* wp = tok.wordpiece()) {
    std::string vocab;
    for (int32_t i = 0; i < tok.vocab_size(); ++i) {
      const std::string& piece = wp->id_to_piece(i);
      if (piece.find('\n') != std::string::npos || piece.find('\r') != std::string::npos)
        fail("tokenizer {}: piece {} holds a line break and cannot be written to vocab.txt",
             tok.path(), i);
      vocab += piece + "\n";
    }
    io::write_file_atomically(dir + "/vocab.txt", vocab);
    files.push_back("vocab.txt");
    const WordPieceConfig& wc = wp->config();
    config["tokenizer_class"] = "BertTokenizer";
    config["do_lower_case"] = wc.normalizer.lowercase;
    config["tokenize_chinese_chars"] = wc.normalizer.handle_chinese_chars;
    config["strip_accents"] =
        wc.normalizer.strip_accents ? json(*wc.normalizer.strip_accents) : json(nullptr);
    if (!wc.normalize)
      notes.push_back(
          "the tokenizer.json had no normalizer; BertTokenizer always cleans text (control "
          "characters, CJK spacing), so ids can differ for such text");
    if (fs::path(tok.path()).filename() == "tokenizer.json") {
      fs::copy_file(tok.path(), dir + "/tokenizer.json");
      files.push_back("tokenizer.json");
    }
  } else {
    fs::copy_file(tok.path(), dir + "/spiece.model");
    files.push_back("spiece.model");
    const HfSentencePieceConfig* hf = tok.hf_sentencepiece();
    const HfSentencePieceConfig flags = hf ? *hf : HfSentencePieceConfig{};
    const bool albert = flags.tokenizer_class.rfind("AlbertTokenizer", 0) == 0;
    config["tokenizer_class"] = albert ? "AlbertTokenizer" : "FNetTokenizer";
    config["do_lower_case"] = flags.do_lower_case;
    config["remove_space"] = flags.remove_space;
    config["keep_accents"] = flags.keep_accents;
    if (!hf)
      notes.push_back(
          "the SentencePiece model was trained by smx; it is exported with FNetTokenizer, whose "
          "preprocessing (whitespace collapsing, `` and '' as \", \"<digits>,\" split before "
          "the comma) smx does not apply to it, so ids can differ for such text");
  }
  io::write_file_atomically(dir + "/tokenizer_config.json", config.dump(2) + "\n");
  io::write_file_atomically(dir + "/special_tokens_map.json", specials.dump(2) + "\n");
  files.push_back("tokenizer_config.json");
  files.push_back("special_tokens_map.json");
  return files;
}

// sentence-transformers files for the folder's embedding defaults, when they can express them.
std::vector<std::string> hf_export_sentence_transformers(const model_folder::EmbeddingDefaults& e,
                                                         const ModelConfig& c,
                                                         const std::string& dir,
                                                         std::vector<std::string>& notes) {
  if (e.pooling == "cls") {
    notes.push_back(
        "embedding.json pools with the pooler output (cls), which sentence-transformers has no "
        "module for: no modules.json written");
    return {};
  }
  json modules = json::array();
  modules.push_back({{"idx", 0},
                     {"name", "0"},
                     {"path", ""},
                     {"type", "sentence_transformers.models.Transformer"}});
  modules.push_back({{"idx", 1},
                     {"name", "1"},
                     {"path", "1_Pooling"},
                     {"type", "sentence_transformers.models.Pooling"}});
  const json pooling = {{"word_embedding_dimension", c.d_model},
                        {"pooling_mode_cls_token", e.pooling == "cls_token"},
                        {"pooling_mode_mean_tokens", e.pooling == "mean"},
                        {"pooling_mode_max_tokens", e.pooling == "max"},
                        {"pooling_mode_mean_sqrt_len_tokens", false},
                        {"pooling_mode_weightedmean_tokens", false},
                        {"pooling_mode_lasttoken", e.pooling == "last"},
                        {"include_prompt", true}};
  fs::create_directories(dir + "/1_Pooling");
  io::write_file_atomically(dir + "/1_Pooling/config.json", pooling.dump(2) + "\n");
  std::vector<std::string> files = {"modules.json", "1_Pooling/config.json",
                                    "sentence_bert_config.json"};
  if (e.normalize) {
    modules.push_back({{"idx", 2},
                       {"name", "2"},
                       {"path", "2_Normalize"},
                       {"type", "sentence_transformers.models.Normalize"}});
    fs::create_directories(dir + "/2_Normalize");
    files.push_back("2_Normalize/");
  }
  io::write_file_atomically(dir + "/modules.json", modules.dump(2) + "\n");
  io::write_file_atomically(
      dir + "/sentence_bert_config.json",
      json{{"max_seq_length", c.max_seq_len}, {"do_lower_case", false}}.dump(2) + "\n");
  return files;
}

// Removes a half-built output folder unless released.
class HfExportScratch {
 public:
  explicit HfExportScratch(std::string path) : path_(std::move(path)) {}
  ~HfExportScratch() {
    if (path_.empty()) return;
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  HfExportScratch(const HfExportScratch&) = delete;
  HfExportScratch& operator=(const HfExportScratch&) = delete;
  const std::string& path() const { return path_; }
  void release() { path_.clear(); }

 private:
  std::string path_;
};

}  // namespace

std::string hf_export_refusal(const ModelConfig& c) {
  std::vector<std::string> why;
  std::vector<int64_t> moe, attention;
  for (int64_t l = 0; l < c.num_layers; ++l) {
    if (c.is_moe_layer(l)) moe.push_back(l);
    if (c.mixing_at(l).arch == "bert") attention.push_back(l);
  }
  if (!moe.empty())
    why.push_back(fmt::format(
        "layers {} are Mixture-of-Experts layers (encoder.layers.L.moe.*): Hugging Face BERT and "
        "FNet have a dense MLP in every layer",
        hf_export_layer_list(moe)));
  if (c.is_bert()) {
    if (c.embedding_projection)
      why.push_back(fmt::format(
          "it has the embedding projection encoder.embedder.hidden_mapping_in (d_emb {} -> "
          "d_model {}), which Hugging Face BERT has no place for (only embedding_projection "
          "false exports as BERT)",
          c.d_emb, c.d_model));
  } else if (c.model_arch == "f_net") {
    if (!attention.empty())
      why.push_back(fmt::format(
          "layers {} are attention layers: Hugging Face FNet mixes with a Fourier transform in "
          "every layer",
          hf_export_layer_list(attention)));
    if (!c.embedding_projection)
      why.push_back("it has no embedding projection, which Hugging Face FNet always has");
    if (c.d_emb != c.d_model)
      why.push_back(fmt::format(
          "d_emb {} differs from d_model {}: Hugging Face FNet's embeddings are hidden_size wide",
          c.d_emb, c.d_model));
  } else {
    why.push_back(fmt::format(
        "its {} mixing (encoder.layers.L.mixing.*, model_arch '{}') has no Hugging Face "
        "counterpart: only attention (BERT) and Fourier mixing (FNet) export",
        c.mixing().layer_name, c.model_arch));
  }
  if (c.hidden_act != "gelu_tanh" && c.hidden_act != "gelu_erf")
    why.push_back(fmt::format("hidden_act '{}' has no Hugging Face name", c.hidden_act));
  std::string s;
  for (const auto& w : why) s += (s.empty() ? "" : "; ") + w;
  return s;
}

HfExportReport export_hf(const std::string& model_dir, const std::string& out_dir,
                         const HfExportOptions& options) {
  const auto folder = model_folder::ModelFolder::open(model_dir, options.tokenizer);
  const ModelConfig& c = folder.config();
  if (const std::string why = hf_export_refusal(c); !why.empty())
    fail("cannot export '{}' (model_arch '{}') as a Hugging Face model: {}", model_dir,
         c.model_arch, why);
  const hf::Family family = c.is_bert() ? hf::Family::kBert : hf::Family::kFNet;
  const std::string family_name = family == hf::Family::kBert ? "Bert" : "FNet";
  const auto& task = folder.task();

  std::string arch_name = options.architecture;
  if (arch_name.empty()) {
    if (task && task->kind == tasks::TaskKind::kGrouped)
      fail(
          "'{}' is fine-tuned for the grouped task '{}' (one score per choice), which no Hugging "
          "Face sequence-classification head reproduces; pass --architecture {}Model to export "
          "the encoder alone",
          model_dir, task->task, family_name);
  }
  // Read before choosing: what an import drew fresh decides the default heads.
  const std::string weights_path = folder.weights_path();
  const io::SafetensorsFile file = io::read_safetensors(weights_path);
  const std::set<std::string> initialized = hf_export_initialized(file);
  if (arch_name.empty()) {
    const bool fresh_mlm = hf_export_any_with_prefix(initialized, "mlm.");
    const bool fresh_head = hf_export_any_with_prefix(initialized, "classification.");
    arch_name = family_name + (task         ? "ForSequenceClassification"
                               : fresh_mlm  ? "Model"
                               : fresh_head ? "ForMaskedLM"
                                            : "ForPreTraining");
  }
  std::optional<hf::Architecture> arch;
  std::string known;
  for (const auto& a : hf::architectures()) {
    if (a.family == family) known += (known.empty() ? "" : ", ") + a.name;
    if (a.name == arch_name) arch = a;
  }
  if (!arch || arch->family != family)
    fail("--architecture '{}' does not fit '{}' ({}-shaped); use one of {}", arch_name, model_dir,
         family_name, known);
  if (arch->classifier && !task)
    fail(
        "'{}' has no task.json (a pre-trained encoder): {} needs a fine-tuned classifier or "
        "regressor; export it as {}ForPreTraining or {}Model",
        model_dir, arch->name, family_name, family_name);
  if (arch->nsp && task)
    fail(
        "'{}' is fine-tuned for '{}': its classification head is the task's, not next-sentence "
        "prediction, so it cannot be {}'s seq_relationship; export {}ForSequenceClassification "
        "or {}ForMaskedLM",
        model_dir, task->task, arch->name, family_name, family_name);

  // The output folder: refuse to overwrite unless forced, never inside the model folder.
  const fs::path out = fs::absolute(out_dir).lexically_normal();
  const fs::path out_path = out.filename().empty() ? out.parent_path() : out;
  const fs::path src = fs::absolute(model_dir).lexically_normal();
  std::error_code ec;
  if (fs::equivalent(out_path, src, ec))
    fail("--out '{}' is the model folder itself; pass another folder", out_dir);
  const bool exists = fs::exists(out_path, ec);
  if (exists && !fs::is_directory(out_path, ec))
    fail("--out '{}' exists and is not a folder", out_dir);
  if (exists && !fs::is_empty(out_path, ec) && !options.force)
    fail("--out '{}' exists and is not empty; pass --force to replace it", out_dir);
  if (!out_path.parent_path().empty()) fs::create_directories(out_path.parent_path(), ec);
  HfExportScratch scratch(out_path.string() + fmt::format(".export-tmp.{}", ::getpid()));
  fs::remove_all(scratch.path(), ec);
  fs::create_directories(scratch.path(), ec);
  if (ec) fail("cannot create the folder '{}': {}", scratch.path(), ec.message());

  // Tensors under HF's names.
  std::map<std::string, at::Tensor> smx_tensors;
  for (const auto& t : file.tensors) smx_tensors.emplace(t.name, t.tensor);
  HfExportReport report;
  report.architecture = arch->name;
  std::vector<io::NamedTensor> hf_tensors;
  std::set<std::string> placed, known_smx;
  const std::string prefix = hf::family_prefix(family);
  for (const hf::NameRow& row : hf::name_table(family, c.num_layers)) {
    known_smx.insert(row.smx);
    if (!arch->holds(row.part)) continue;
    const auto it = smx_tensors.find(row.smx);
    if (it == smx_tensors.end())
      fail("{}: no tensor '{}', which {} needs as '{}'; the weights file is incomplete",
           weights_path, row.smx, arch->name, row.hf);
    std::string name = row.hf;
    if (!arch->prefixed && name.rfind(prefix, 0) == 0) name = name.substr(prefix.size());
    if (initialized.count(row.smx))
      report.notes.push_back(fmt::format(
          "{} was drawn fresh at import (the source had no such tensor); exported as is as '{}'",
          row.smx, name));
    hf_tensors.push_back({name, hf::to_hf_layout(it->second, row.layout)});
    placed.insert(row.smx);
  }
  for (const auto& [name, tensor] : smx_tensors) {
    if (placed.count(name)) continue;
    if (!known_smx.count(name))
      fail("{}: tensor '{}' has no Hugging Face {} counterpart; the model is not {}-shaped",
           weights_path, name, family_name, family_name);
    if (std::find(report.dropped.begin(), report.dropped.end(), name) == report.dropped.end())
      report.dropped.push_back(name);
  }
  const auto& position_table = smx_tensors.at("encoder.embedder.position_embeddings");
  if (position_table.size(0) != c.position_table_size())
    fail("{}: encoder.embedder.position_embeddings has {} rows but the config says {}",
         weights_path, position_table.size(0), c.position_table_size());
  const at::ScalarType dtype = hf_tensors.front().tensor.scalar_type();
  const std::string torch_dtype = dtype == at::kFloat      ? "float32"
                                  : dtype == at::kBFloat16 ? "bfloat16"
                                  : dtype == at::kHalf     ? "float16"
                                                           : "float32";
  // transformers refuses safetensors files without format "pt" in their metadata.
  io::write_safetensors(scratch.path() + "/model.safetensors", hf_tensors,
                        {{"format", "pt"}, {"smx.exported_from", folder.name()}});
  report.tensors = static_cast<int64_t>(hf_tensors.size());
  report.files.push_back("model.safetensors");
  io::write_file_atomically(scratch.path() + "/config.json",
                            hf_export_config(c, *arch, task, torch_dtype).dump(2) + "\n");
  report.files.push_back("config.json");

  if (!c.tokenizer.empty()) {
    const Tokenizer tok = folder.load_tokenizer();
    for (auto& f : hf_export_tokenizer(tok, c, scratch.path(), report.notes))
      report.files.push_back(std::move(f));
  } else {
    report.notes.push_back(
        "the folder records no tokenizer: no tokenizer files written (pass --tokenizer)");
  }
  if (const auto& e = folder.embedding())
    for (auto& f : hf_export_sentence_transformers(*e, c, scratch.path(), report.notes))
      report.files.push_back(std::move(f));

  // Into place: an existing (empty, or forced) folder is moved aside first, then removed.
  const std::string aside = out_path.string() + fmt::format(".export-old.{}", ::getpid());
  if (exists) {
    fs::rename(out_path, aside, ec);
    if (ec) fail("cannot move the existing '{}' aside: {}", out_dir, ec.message());
  }
  fs::rename(scratch.path(), out_path, ec);
  if (ec) {
    std::error_code ignored;
    if (exists) fs::rename(aside, out_path, ignored);
    fail("cannot rename '{}' to '{}': {}", scratch.path(), out_dir, ec.message());
  }
  scratch.release();
  io::fsync_path(out_path.parent_path().empty() ? "." : out_path.parent_path().string(), true);
  if (exists) fs::remove_all(aside, ec);
  return report;
}

}  // namespace smx::importer
