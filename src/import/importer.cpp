#include "smx/import/importer.h"

#include <filesystem>
#include <map>
#include <set>
#include <sstream>

#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include "smx/core/error.h"
#include "smx/import/checkpoint_files.h"
#include "smx/import/config_inference.h"
#include "smx/import/flax_msgpack.h"
#include "smx/import/flax_names.h"
#include "smx/import/import_output.h"
#include "smx/import/reference_params.h"
#include "smx/model/sparse_mixer.h"
#include "smx/model_folder/model_folder.h"
#include "smx/tokenizer/tokenizer.h"

namespace smx::importer {
namespace {

namespace fs = std::filesystem;

struct Prepared {
  InferredConfig inferred;
  ModelConfig config;
  std::vector<MappedTensor> mapped;
  ReferenceParams params;
};

// Reads, infers, reconciles and maps: everything but writing.
Prepared prepare(const CheckpointFiles& files, const ImportOptions& o, std::ostream& log) {
  Prepared p;
  p.params = read_reference_params(files);
  p.inferred = infer_config(p.params, files.labels());
  p.config = p.inferred.config;
  if (!o.config.empty())
    p.config = reconcile_config(p.inferred, load_model_config(o.config), o.config, files.source());
  else
    p.config.name = files.labels().front();
  p.config.tokenizer.clear();
  if (!o.vocab.empty()) {
    const Tokenizer tok = Tokenizer::load(o.vocab);  // finds [CLS], [SEP], [MASK] and the pad id
    if (tok.vocab_size() != p.config.vocab_size)
      fail(
          "{}: the vocabulary has {} pieces but '{}' in {} has {} rows; pass the vocabulary the "
          "model was trained with (c4_bpe_sentencepiece.model for the released models)",
          o.vocab, tok.vocab_size(), "encoder/embedder/word/embedding",
          p.params.file_of("encoder/embedder/word/embedding"), p.config.vocab_size);
    p.config.pad_id = tok.pad_id();
    log << fmt::format("vocabulary {}: {} pieces, pad {}, [CLS] {}, [SEP] {}, [MASK] {}\n", o.vocab,
                       tok.vocab_size(), tok.pad_id(), tok.cls_id(), tok.sep_id(), tok.mask_id());
  }
  p.config.validate();
  p.mapped = map_to_smx(p.params, p.config);
  return p;
}

std::string file_list(const CheckpointFiles& files) {
  std::string out = files.replicated().name;
  for (const auto& s : files.shards()) out += "," + s.name;
  return out;
}

// The model with every parameter taken from `mapped` (each name and shape checked).
std::shared_ptr<model::SparseMixer> build_model(const ModelConfig& config,
                                                const std::vector<MappedTensor>& mapped) {
  auto model = model::make_sparse_mixer(config, 0, 2);
  auto named = model->named_parameters();
  std::set<std::string> filled;
  torch::NoGradGuard no_grad;
  for (const auto& m : mapped) {
    at::Tensor* p = named.find(m.smx_name);
    if (p == nullptr)
      fail("'{}' maps to '{}', which this smx model does not have", m.flax_path, m.smx_name);
    if (p->sizes() != m.tensor.sizes())
      fail("'{}' is {} after mapping but smx's '{}' is {}", m.flax_path,
           shape_text(m.tensor.sizes()), m.smx_name, shape_text(p->sizes()));
    p->copy_(m.tensor);
    filled.insert(m.smx_name);
  }
  for (const auto& item : named)
    if (filled.count(item.key()) == 0)
      fail("no tensor of the checkpoint maps to smx parameter '{}'", item.key());
  return model;
}

}  // namespace

ImportResult import_sparse_mixers(const ImportOptions& o, std::ostream& log) {
  const ImportOutput output(o.out_dir, "smx import");
  const fs::path& out = output.path();
  const CheckpointFiles files(o.source);
  log << fmt::format("{}: {} (step {}){}\n", o.source, files.replicated().name, files.step(),
                     files.shards().empty()
                         ? std::string()
                         : fmt::format(" + {} shard files", files.shards().size()));
  Prepared p = prepare(files, o, log);
  for (const auto& note : p.inferred.notes) log << "  " << note << "\n";
  if (!o.config.empty()) log << "  settings from --config " << o.config << "\n";
  if (!o.vocab.empty()) p.config.tokenizer = (out / "tokenizer.model").string();
  auto model = build_model(p.config, p.mapped);

  ImportResult result;
  result.config = p.config;
  result.step = files.step() >= 0 ? files.step() : p.params.stored_step;
  for (const auto& m : p.mapped) result.parameters += m.tensor.numel();
  std::map<std::string, std::string> metadata = {
      {kImportSourceKey, fs::absolute(o.source).lexically_normal().string()},
      {kImportFilesKey, file_list(files)},
      {kImportStepKey, std::to_string(result.step)},
      {kImportFormatKey, "Flax msgpack, " + p.params.format}};

  output.build([&](const fs::path& tmp) {
    model_folder::ModelFolder::write(tmp.string(), *model, p.config, nullptr, metadata);
    if (!o.vocab.empty()) fs::copy_file(o.vocab, tmp / "tokenizer.model");
  });
  result.weights = (out / "model.safetensors").string();
  log << fmt::format("wrote {} ({} parameters, config '{}'{})\n", out.string(), result.parameters,
                     p.config.name,
                     o.vocab.empty() ? "; no --vocab: pass --tokenizer to the commands that encode "
                                       "text"
                                     : "");
  return result;
}

bool inspect_sparse_mixers(const ImportOptions& o, std::ostream& out) {
  const CheckpointFiles files(o.source);
  out << fmt::format("source {}\n", o.source);
  std::vector<CheckpointFile> all = {files.replicated()};
  all.insert(all.end(), files.shards().begin(), files.shards().end());
  for (const auto& f : all) {
    out << fmt::format("\n== {} ({} bytes) ==\n", f.location, f.size);
    const FlaxCheckpoint ckpt = parse_flax_checkpoint(files.read(f), f.location);
    std::map<std::string, int64_t> skipped;  // top-level key -> leaves not listed
    for (const auto& leaf : ckpt.leaves) {
      const std::string top = leaf.path.substr(0, leaf.path.find('/'));
      const bool param = top == "params" || top == "target" || top == "encoder" ||
                         leaf.path.find('/') == std::string::npos;
      if (!param) {
        ++skipped[top];
        continue;
      }
      std::string what;
      switch (leaf.kind) {
        case FlaxLeaf::Kind::kArray:
          what = describe(leaf.array);
          break;
        case FlaxLeaf::Kind::kInteger:
          what = fmt::format("integer {}", leaf.integer);
          break;
        case FlaxLeaf::Kind::kFloat:
          what = fmt::format("float {}", leaf.real);
          break;
        case FlaxLeaf::Kind::kString:
          what = "string \"" + leaf.text + "\"";
          break;
        case FlaxLeaf::Kind::kOther:
          what = leaf.text;
          break;
        default:
          what = "nil / bool";
      }
      out << fmt::format("  {:<64} {}\n", leaf.path, what);
    }
    for (const auto& [top, n] : skipped)
      out << fmt::format("  {:<64} {} leaves not read (optimizer state)\n", top + "/...", n);
  }
  try {
    std::ostringstream log;
    Prepared p = prepare(files, o, log);
    out << "\n== format ==\n  " << p.params.format;
    if (p.params.stored_step >= 0) out << ", stored step " << p.params.stored_step;
    out << fmt::format(", file step {}\n", files.step());
    out << "\n== inferred config ==\n";
    for (const auto& note : p.inferred.notes) out << "  " << note << "\n";
    out << log.str() << p.config.to_json().dump(2) << "\n";
    out << "\n== mapping ==\n";
    for (const auto& m : p.mapped)
      out << fmt::format("  {:<48} -> {:<44} {}{}\n", m.flax_path, m.smx_name,
                         shape_text(m.tensor.sizes()), m.how.empty() ? "" : "  (" + m.how + ")");
    build_model(p.config, p.mapped);
    out << fmt::format("\nimport would write {} tensors\n", p.mapped.size());
    return true;
  } catch (const Error& e) {
    out << "\nimport would fail: " << e.what() << "\n";
    return false;
  }
}

}  // namespace smx::importer
