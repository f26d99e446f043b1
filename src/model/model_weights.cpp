#include "smx/model/model_weights.h"

#include <nlohmann/json.hpp>

#include "smx/core/error.h"
#include "smx/io/safetensors.h"
#include "smx/io/weights.h"

namespace smx::model {
namespace {

constexpr const char* kConfigKey = "smx.config";

// Keys that change parameter shapes or the layer plan.
const char* const kArchitectureKeys[] = {
    "model_arch",       "vocab_size",     "type_vocab_size", "max_seq_len", "d_emb",
    "d_model",          "d_ff",           "num_heads",       "num_layers",  "num_attention_layers",
    "attention_layout", "num_moe_layers", "moe_layout",      "num_experts", "expert_d_ff"};

}  // namespace

void save_model_weights(const SparseMixer& model, const std::string& path,
                        std::map<std::string, std::string> metadata) {
  metadata[kConfigKey] = model.config().to_json().dump();
  io::save_module_weights(model, path, metadata);
}

std::map<std::string, std::string> load_model_weights(SparseMixer& model, const std::string& path) {
  io::SafetensorsFile file = io::read_safetensors(path);
  const auto it = file.metadata.find(kConfigKey);
  if (it != file.metadata.end()) {
    const auto saved = nlohmann::json::parse(it->second, nullptr, false);
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
  return io::load_module_weights(model, std::move(file), path);
}

ModelConfig recorded_config(const std::string& path) {
  const io::SafetensorsFile file = io::read_safetensors(path);
  const auto it = file.metadata.find(kConfigKey);
  if (it == file.metadata.end()) fail("weights file '{}' records no model config", path);
  const auto j = nlohmann::json::parse(it->second, nullptr, false);
  if (j.is_discarded())
    fail("weights file '{}' has a corrupt '{}' metadata entry", path, kConfigKey);
  return ModelConfig::from_json(j, path + " (recorded config)");
}

}  // namespace smx::model
