// Training checkpoints: DIR/checkpoints/step-NNNNNNNN/ holding
//   model.safetensors      weights (with the model config in its metadata)
//   optimizer.safetensors  AdamW moments and step, and the RNG state ("rng.cpu")
//   trainer.json           step, schedule, counters, wall time
//   data.json              the data stream's resume state
//   manifest.json          {"step", "files": {name: {"bytes", "crc32"}}} of the four files above
// A checkpoint is written into a hidden temporary folder, every file fsynced, the manifest last,
// then renamed into place and the parent fsynced: a kill at any moment leaves either the previous
// set or the new one, never a half-written "latest". The newest K are kept.
// Resuming checks the newest checkpoint against its manifest (sizes, CRC-32) and its trainer.json
// (step matching the folder name); one that fails (disk corruption, an edited file) is renamed to
// step-N.corrupt and the next older one is used, with a warning.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "smx/io/safetensors.h"

namespace smx::io {

struct CheckpointContents {
  int64_t step = 0;
  std::vector<NamedTensor> weights;
  std::map<std::string, std::string> weights_metadata;
  std::vector<NamedTensor> optimizer;
  nlohmann::json trainer;
  std::string data_state;
};

class CheckpointManager {
 public:
  // `run_dir` must be writable; checkpoints go to run_dir/checkpoints.
  CheckpointManager(std::string run_dir, int64_t keep_last);

  // Writes atomically, then deletes all but the newest `keep_last`. Returns the folder.
  std::string save(const CheckpointContents& contents);

  // The newest complete checkpoint folder, if any (not verified: a cheap "is there one?").
  std::optional<std::string> latest() const;
  // The newest checkpoint that passes verify(). Each newer one that fails is described in
  // `skipped` ("<folder>: <reason>") and, with `quarantine` (the run's one writer), renamed to
  // "<folder>.corrupt". Every rank of a job picks the same folder.
  std::optional<std::string> latest_intact(bool quarantine, std::vector<std::string>* skipped);
  // Why `folder` cannot be resumed from, or "" when its files match its manifest and its
  // trainer.json is sound. Checkpoints written before manifests existed are checked by their
  // trainer.json alone.
  // Everything but the weights, which the caller loads from folder/model.safetensors with the
  // architecture checks of model::load_model_weights.
  static CheckpointContents load(const std::string& folder);
  static std::string verify(const std::string& folder);

  const std::string& directory() const { return directory_; }

 private:
  std::vector<std::pair<int64_t, std::string>> complete() const;  // (step, folder), ascending

  std::string directory_;
  int64_t keep_last_;
};

}  // namespace smx::io
