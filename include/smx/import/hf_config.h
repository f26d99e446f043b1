// Hugging Face BERT / FNet config.json <-> smx ModelConfig (docs/importing.md, "Hugging Face
// BERT and FNet"). Reading checks the architecture, the model_type and every setting smx cannot
// reproduce, and names config.json and the key in its errors.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "smx/config/model_config.h"
#include "smx/import/hf_names.h"

namespace smx::importer::hf {

// What config.json describes beyond the encoder's shape.
struct HfModelInfo {
  Family family = Family::kBert;
  Architecture architecture;        // its name and the heads its state dict holds
  bool regression = false;          // classifier with num_labels 1 (or problem_type regression)
  int64_t num_labels = 0;           // classifier outputs
  std::vector<std::string> labels;  // id2label in id order (classification only)
  ModelConfig config;               // the smx config of the encoder
  std::vector<std::string> notes;   // settings chosen, for the import log
};

// Parses config.json's object; `source` names the file in errors. `max_seq_len` > 0 replaces the
// default sequence length (max_position_embeddings).
HfModelInfo parse_hf_config(const nlohmann::json& j, const std::string& source,
                            int64_t max_seq_len = 0);

// The HF config.json keys of an smx config with HF's shape (BERT: bert arch, no projection; FNet:
// f_net arch, projection, no attention or MoE); fails naming what does not fit HF's model. The
// caller adds architectures, id2label and label2id.
nlohmann::json hf_config_keys(const ModelConfig& config, Family family);

// HF hidden_act <-> smx hidden_act ("gelu" <-> "gelu_erf", "gelu_new" <-> "gelu_tanh").
std::string smx_hidden_act(const std::string& hf_act, const std::string& source);
std::string hf_hidden_act(const std::string& smx_act);

}  // namespace smx::importer::hf
