#include "smx/import/hf_importer.h"

#include <filesystem>
#include <map>
#include <set>

#include <fmt/format.h>
#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include "smx/core/error.h"
#include "smx/core/json.h"
#include "smx/core/shape.h"
#include "smx/import/hf_checkpoint.h"
#include "smx/import/hf_names.h"
#include "smx/import/import_output.h"
#include "smx/import/importer.h"
#include "smx/io/text_file.h"
#include "smx/model/sparse_mixer.h"
#include "smx/model_folder/model_folder.h"
#include "smx/tokenizer/tokenizer.h"

namespace smx::importer {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

// Tokenizer files of an HF folder in the order they are taken (FNet's tokenizer.json is a
// Unigram one: its spiece.model is the SentencePiece model smx reads), and the files that
// configure them.
std::vector<std::string> hf_tokenizer_candidates(hf::Family family) {
  if (family == hf::Family::kFNet) return {"spiece.model"};
  return {"tokenizer.json", "vocab.txt"};
}
const char* const kHfTokenizerSideFiles[] = {"tokenizer_config.json", "special_tokens_map.json"};

// What config.json says the shapes come from, for messages.
std::string hf_shape_keys(const ModelConfig& c) {
  return fmt::format(
      "vocab_size {}, hidden_size {}, intermediate_size {}, max_position_embeddings {}, "
      "type_vocab_size {}",
      c.vocab_size, c.d_model, c.d_ff, c.position_table_size(), c.type_vocab_size);
}

// A base-model tensor (prefixed, or a bare BertModel/FNetModel name) that nothing mapped: the
// config describes another model than the file holds.
bool hf_is_base_model_name(const std::string& name, hf::Family family) {
  for (const std::string& start : {hf::family_prefix(family), std::string("embeddings."),
                                   std::string("encoder."), std::string("pooler.")})
    if (name.rfind(start, 0) == 0) return true;
  return false;
}

json hf_task_record(const HfImportResult& r, const std::string& source) {
  const hf::HfModelInfo& info = r.info;
  json task = {{"task", "hf:" + info.architecture.name},
               {"display_name", fs::path(source).lexically_normal().filename().string()},
               {"kind", info.regression ? "regression" : "classification"},
               {"num_outputs", info.num_labels},
               {"max_seq_len", info.config.max_seq_len},
               {"imported_from", source}};
  if (!info.regression) task["labels"] = info.labels;
  return task;
}

}  // namespace

HfImportResult import_hf(const HfImportOptions& o, std::ostream& log) {
  if (o.source.empty()) fail("smx import hf: give the Hugging Face model folder to import");
  const ImportOutput output(o.out_dir, "smx import hf");
  const fs::path& out = output.path();
  std::error_code ec;
  const fs::path src = fs::absolute(o.source).lexically_normal();
  if (!fs::is_directory(src, ec))
    fail("'{}' is not a folder; smx import hf reads a Hugging Face model folder", o.source);
  const std::string config_path = (src / "config.json").string();
  if (!fs::is_regular_file(config_path, ec))
    fail("'{}' has no config.json; is it a Hugging Face model folder?", o.source);

  HfImportResult r;
  r.info = hf::parse_hf_config(parse_json(io::read_text_file(config_path), config_path),
                               config_path, o.max_seq_len);
  ModelConfig& config = r.info.config;
  if (!o.padding.empty()) {
    config.padding = parse_padding(o.padding);
    config.validate();
  }
  log << fmt::format("{}: {} ({} layers, hidden {}, vocab {}, {})\n", o.source,
                     r.info.architecture.name, config.num_layers, config.d_model, config.vocab_size,
                     config.hidden_act);
  for (const auto& note : r.info.notes) log << "  " << note << "\n";

  const hf::HfCheckpoint ckpt = hf::read_hf_checkpoint(src.string());
  r.format = ckpt.format;
  std::string files;
  for (const auto& f : ckpt.files)
    files += (files.empty() ? "" : ",") + fs::path(f).filename().string();
  log << fmt::format("  weights: {} ({} tensors)\n", ckpt.format, ckpt.tensors.size());

  // Every parameter of the architecture from its HF tensor (shape and dtype checked); seed 0
  // draws the parts the architecture lacks with smx's initialisation.
  const int64_t outputs = r.info.architecture.classifier ? r.info.num_labels : 2;
  auto model = model::make_sparse_mixer(config, 0, outputs);
  auto named = model->named_parameters();
  std::set<std::string> used, filled;
  std::string words_name;  // the word-embedding tensor's name in the file
  {
    torch::NoGradGuard no_grad;
    for (const auto& row : hf::name_table(r.info.family, config.num_layers)) {
      if (!r.info.architecture.holds(row.part)) continue;
      const std::vector<std::string> aliases = hf::hf_name_aliases(row.hf, r.info.family);
      auto it = ckpt.tensors.end();
      for (const auto& name : aliases)
        if ((it = ckpt.tensors.find(name)) != ckpt.tensors.end()) break;
      if (it == ckpt.tensors.end())
        fail("{}: no tensor '{}' (nor {}), which {} has; the weights do not belong to config.json",
             files, row.hf, aliases.size() > 1 ? "'" + aliases[1] + "'" : "an alias",
             r.info.architecture.name);
      const std::string& name = it->first;
      const at::Tensor& t = it->second.tensor;
      at::Tensor* p = named.find(row.smx);
      if (p == nullptr) fail("internal: smx has no parameter '{}' for '{}'", row.smx, name);
      std::vector<int64_t> want(p->sizes().begin(), p->sizes().end());
      if (row.layout == hf::Layout::kTransposed) std::swap(want[0], want[1]);
      if (t.sizes() != at::IntArrayRef(want))
        fail("{}: tensor '{}' is {} but config.json ({}) needs {}; nothing was written",
             it->second.file, name, shape_string(t.sizes()), hf_shape_keys(config),
             shape_string(want));
      if (!t.is_floating_point())
        fail("{}: tensor '{}' is {}, not a floating-point tensor", it->second.file, name,
             c10::toString(t.scalar_type()));
      p->copy_(hf::to_smx_layout(t.to(at::kFloat), row.layout));
      if (!p->isfinite().all().item<bool>())
        fail("{}: tensor '{}' holds NaN or infinite values", it->second.file, name);
      used.insert(name);
      filled.insert(row.smx);
      if (row.smx == "encoder.embedder.word_embeddings") words_name = name;
      r.parameters += t.numel();
    }
  }
  // The MLM decoder matrix is the word-embedding table in HF too (tied); files that keep it must
  // keep it equal.
  const auto decoder = ckpt.tensors.find(hf::tied_decoder_name());
  if (decoder != ckpt.tensors.end()) {
    const at::Tensor& words = model->encoder->embedder->word_embeddings;
    const at::Tensor d = decoder->second.tensor;
    if (r.info.architecture.mlm &&
        (d.sizes() != words.sizes() || !torch::equal(d.to(at::kFloat), words)))
      fail(
          "{}: tensor '{}' differs from the word embeddings; smx ties the MLM output to them "
          "(tie_word_embeddings false is not supported)",
          decoder->second.file, decoder->first);
    used.insert(decoder->first);
  }
  // torch.save files keep the tied MLM bias under both of its names: the second copy must agree.
  const auto decoder_bias = ckpt.tensors.find("cls.predictions.decoder.bias");
  if (r.info.architecture.mlm && decoder_bias != ckpt.tensors.end() &&
      !used.count(decoder_bias->first)) {
    const at::Tensor& bias = model->mlm->output_bias;
    if (decoder_bias->second.tensor.sizes() != bias.sizes() ||
        !torch::equal(decoder_bias->second.tensor.to(at::kFloat), bias))
      fail("{}: tensor '{}' differs from 'cls.predictions.bias'; HF ties the two",
           decoder_bias->second.file, decoder_bias->first);
    used.insert(decoder_bias->first);
  }
  std::vector<std::string> ignored;
  for (const auto& [name, t] : ckpt.tensors) {
    if (used.count(name) || hf::is_hf_buffer(name)) continue;
    if (hf_is_base_model_name(name, r.info.family))
      fail("{}: tensor '{}' has no place in the {} that config.json describes ({} layers, {})",
           t.file, name, r.info.architecture.name, config.num_layers, hf_shape_keys(config));
    ignored.push_back(name);
  }
  if (!ignored.empty())
    log << fmt::format("  ignored {} tensors of heads {} does not have (first: {})\n",
                       ignored.size(), r.info.architecture.name, ignored.front());
  std::string initialized;
  for (const auto& item : named)
    if (!filled.count(item.key())) {
      r.initialized.push_back(item.key());
      initialized += (initialized.empty() ? "" : ",") + item.key();
    }
  if (!r.initialized.empty())
    log << fmt::format("  {} has no {}: {} smx tensors initialised as smx does (seed 0), e.g. {}\n",
                       r.info.architecture.name,
                       !r.info.architecture.mlm
                           ? "MLM head"
                           : (!r.info.architecture.pooler ? "pooler" : "NSP head"),
                       r.initialized.size(), r.initialized.front());

  // The tokenizer, checked against the embeddings before anything is written.
  std::string tokenizer_file;
  for (const auto& name : hf_tokenizer_candidates(r.info.family))
    if (fs::is_regular_file(src / name, ec)) {
      tokenizer_file = name;
      break;
    }
  if (!tokenizer_file.empty()) {
    const std::string path = (src / tokenizer_file).string();
    const Tokenizer tok = Tokenizer::load(path);
    if (tok.vocab_size() != config.vocab_size)
      fail(
          "{}: the tokenizer has {} pieces but tensor '{}' in {} has {} rows (vocab_size in "
          "config.json); the tokenizer belongs to another model (nothing was written)",
          path, tok.vocab_size(), words_name, files, config.vocab_size);
    if (tok.pad_id() != config.pad_id)
      fail("{}: the tokenizer pads with id {} but config.json has pad_token_id {}", path,
           tok.pad_id(), config.pad_id);
    log << fmt::format("  tokenizer: {} ({} pieces, pad {})\n", tokenizer_file, tok.vocab_size(),
                       tok.pad_id());
    config.tokenizer = (out / tokenizer_file).string();
    r.tokenizer = config.tokenizer;
  } else {
    log << "  no tokenizer file (tokenizer.json, vocab.txt or spiece.model): pass --tokenizer to "
           "the commands that encode text\n";
  }

  // A sentence-transformers folder: its pooling and normalisation become embedding.json.
  const auto embedding = model_folder::read_sentence_transformers_modules(src.string());
  if (embedding)
    log << fmt::format("  embeddings: {} pooling{} (from {})\n", embedding->pooling,
                       embedding->normalize ? ", L2-normalised" : "", embedding->source);

  std::map<std::string, std::string> metadata = {{kImportSourceKey, src.string()},
                                                 {kImportFilesKey, files},
                                                 {kImportFormatKey, "Hugging Face " + r.format},
                                                 {kImportInitializedKey, initialized}};
  const json task =
      r.info.architecture.classifier ? hf_task_record(r, src.string()) : json(nullptr);

  output.build([&](const fs::path& tmp) {
    model_folder::ModelFolder::write(tmp.string(), *model, config, task, metadata);
    if (embedding) model_folder::ModelFolder::write_embedding_defaults(tmp.string(), *embedding);
    if (!tokenizer_file.empty()) {
      fs::copy_file(src / tokenizer_file, tmp / tokenizer_file);
      std::error_code missing;
      for (const char* side : kHfTokenizerSideFiles)
        if (fs::is_regular_file(src / side, missing)) fs::copy_file(src / side, tmp / side);
    }
  });
  log << fmt::format("wrote {} ({} parameters from the checkpoint{}{})\n", out.string(),
                     r.parameters, r.info.architecture.classifier ? ", task.json" : "",
                     r.info.architecture.classifier && !r.info.regression
                         ? fmt::format(" with {} labels", r.info.num_labels)
                         : std::string(r.info.regression ? " (regression)" : ""));
  return r;
}

}  // namespace smx::importer
