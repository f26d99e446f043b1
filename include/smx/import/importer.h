// smx import sparse-mixers: a released Sparse Mixers checkpoint (zip, unpacked folder or single
// file) -> an smx model folder (config.json with the tokenizer, model.safetensors recording where
// it came from, tokenizer.model) that every smx command loads like one of its own pre-training
// runs. Nothing is written unless every check passes: the folder is built under a temporary name
// beside
// --out and renamed at the end.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>

#include "smx/config/model_config.h"

namespace smx::importer {

struct ImportOptions {
  std::string source;   // release zip, the folder it unpacks to, or a checkpoint file
  std::string out_dir;  // must not exist (or be an empty folder)
  std::string vocab;    // SentencePiece model (c4_bpe_sentencepiece.model); "" = none recorded
  std::string config;   // preset name or JSON file to check against and take settings from
};

struct ImportResult {
  ModelConfig config;
  int64_t step = -1;       // from the file names
  int64_t parameters = 0;  // values written
  std::string weights;     // out_dir/model.safetensors
};

// Writes the model folder; progress lines go to `log`.
ImportResult import_sparse_mixers(const ImportOptions& options, std::ostream& log);

// --inspect: the files found, every tree leaf with its dtype and shape, the inferred config and the
// mapping import would apply, or why it would fail. Writes nothing; returns whether import would
// succeed.
bool inspect_sparse_mixers(const ImportOptions& options, std::ostream& out);

// Metadata keys of model.safetensors that record an import (shown by `smx info DIR`).
inline constexpr const char* kImportSourceKey = "smx.import.source";
inline constexpr const char* kImportFilesKey = "smx.import.files";
inline constexpr const char* kImportStepKey = "smx.import.step";
inline constexpr const char* kImportFormatKey = "smx.import.format";

}  // namespace smx::importer
