// smx import hf: a Hugging Face BERT / FNet model folder (config.json, weights, tokenizer files) ->
// an smx model folder that every smx command loads (docs/importing.md, "Hugging Face BERT and
// FNet"). A *ForSequenceClassification model becomes a fine-tuned folder (task.json with its
// labels, or regression for one label). Nothing is written unless every check passes: the folder
// is built under a temporary name beside --out and renamed at the end.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "smx/config/model_config.h"
#include "smx/import/hf_config.h"

namespace smx::importer {

struct HfImportOptions {
  std::string source;       // the HF model folder
  std::string out_dir;      // must not exist (or be an empty folder)
  int64_t max_seq_len = 0;  // > 0: the smx max_seq_len (default max_position_embeddings)
  std::string padding;      // "" = BERT masked, FNet reference; else "masked" / "reference"
};

struct HfImportResult {
  hf::HfModelInfo info;                  // the architecture read; info.config as written
  int64_t parameters = 0;                // values taken from the checkpoint
  std::vector<std::string> initialized;  // smx parameters the architecture lacks (fresh init)
  std::string tokenizer;                 // the tokenizer file in the folder ("" = none found)
  std::string format;                    // how the weights were stored
};

HfImportResult import_hf(const HfImportOptions& options, std::ostream& log);

// Metadata key listing the smx parameters that the HF architecture did not provide.
inline constexpr const char* kImportInitializedKey = "smx.import.initialized";

}  // namespace smx::importer
