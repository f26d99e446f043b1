#include "smx/model/model_weights.h"

#include <filesystem>

#include <nlohmann/json.hpp>

#include "smx/accounting/accounting.h"
#include "smx/core/error.h"
#include "smx/core/json.h"
#include "smx/io/safetensors.h"
#include "smx/io/weights.h"

namespace smx::model {
namespace {

constexpr const char* kConfigKey = "smx.config";

// Keys that change parameter shapes or the layer plan.
const char* const kArchitectureKeys[] = {"model_arch",
                                         "vocab_size",
                                         "type_vocab_size",
                                         "max_seq_len",
                                         "d_emb",
                                         "d_model",
                                         "d_ff",
                                         "num_heads",
                                         "num_layers",
                                         "num_attention_layers",
                                         "attention_layout",
                                         "num_moe_layers",
                                         "moe_layout",
                                         "num_experts",
                                         "expert_d_ff",
                                         "embedding_projection",
                                         "max_position_embeddings"};

}  // namespace

void save_model_weights(const SparseMixer& model, const std::string& path,
                        std::map<std::string, std::string> metadata) {
  metadata[kConfigKey] = model.config().to_json().dump();
  io::save_module_weights(model, path, metadata);
}

std::map<std::string, std::string> load_model_weights(SparseMixer& model, const std::string& path,
                                                      const io::WeightLoadOptions& options) {
  return load_model_weights(model, io::read_safetensors(path), path, options);
}

std::map<std::string, std::string> load_model_weights(SparseMixer& model, io::SafetensorsFile file,
                                                      const std::string& path,
                                                      const io::WeightLoadOptions& options) {
  const auto it = file.metadata.find(kConfigKey);
  if (it != file.metadata.end()) {
    const auto saved = parse_json(it->second, path + " (metadata " + kConfigKey + ")");
    const auto current = model.config().to_json();
    if (saved.is_object()) {
      std::string diffs;
      for (const char* key : kArchitectureKeys)
        if (saved.contains(key) && saved[key] != current[key])
          diffs +=
              fmt::format("{}{} = {} in the file, {} in this config", diffs.empty() ? "" : "; ",
                          key, saved[key].dump(), current[key].dump());
      if (!diffs.empty())
        fail(
            "weights file '{}' was saved for another architecture ('{}'): {}. Use the config it "
            "was "
            "trained with (--config) or matching --set overrides",
            path, saved.value("name", "?"), diffs);
    }
  }
  return io::load_module_weights(model, std::move(file), path, options);
}

int64_t classifier_outputs(const io::SafetensorsFile& file, const std::string& path) {
  for (const auto& t : file.tensors)
    if (t.name == "classification.kernel" && t.tensor.dim() == 2) return t.tensor.size(1);
  fail(
      "weights file '{}' has no 'classification.kernel' [D, outputs] tensor; is it a SparseMixer "
      "saved by smx init, smx pretrain, smx finetune or smx import?",
      path);
}

ModelConfig recorded_config(const std::string& path) {
  const io::SafetensorsFile file = io::read_safetensors(path);
  const auto it = file.metadata.find(kConfigKey);
  if (it == file.metadata.end()) fail("weights file '{}' records no model config", path);
  const auto j = parse_json(it->second, path + " (metadata " + kConfigKey + ")");
  ModelConfig config = ModelConfig::from_json(j, path + " (recorded config)");
  check_config_fits_file(config, path);
  return config;
}

void check_config_fits_file(const ModelConfig& config, const std::string& path) {
  std::error_code ec;
  const auto bytes = std::filesystem::file_size(path, ec);
  if (ec) fail("cannot read the size of weights file '{}': {}", path, ec.message());
  const int64_t needed = accounting::account(config).encoder_parameters;
  if (static_cast<double>(needed) * 2.0 > static_cast<double>(bytes))
    fail(
        "weights file '{}' ({} bytes) cannot hold the {} encoder parameters that config '{}' "
        "describes (vocab_size {}, d_model {}, num_layers {}, num_experts {}): the config does "
        "not belong to this file, or one of them is corrupt",
        path, bytes, needed, config.name, config.vocab_size, config.d_model, config.num_layers,
        config.num_experts);
}

}  // namespace smx::model
