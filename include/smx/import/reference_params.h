// The parameters of a reference (google-research sparse_mixers) checkpoint, read from its files:
// the replicated file's parameters as fp32 tensors, and each shard's expert parameters with their
// device axis, in shard order. The parameters sit inside the saved train state: under "params"
// (optax TrainState) or "target" (flax.optim Optimizer), or at the top of a bare parameter tree;
// optimizer moments and every other leaf are skipped.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "smx/import/checkpoint_files.h"

namespace smx::importer {

struct ReferenceParams {
  // "encoder/pooler/kernel" -> fp32 tensor, from the replicated file.
  std::map<std::string, at::Tensor> dense;
  // "encoder/expert_5/intermediate/kernel" -> one [devices, ...] tensor per shard, in shard order.
  std::map<std::string, std::vector<at::Tensor>> experts;
  // path -> the file it came from and how it was stored ("[2, 16, 2, 8] bfloat16"), for messages
  // and --inspect.
  std::map<std::string, std::string> origin;
  std::map<std::string, std::vector<std::string>> stored;

  std::string root;          // "params", "target" or "" (bare tree)
  std::string format;        // "optax TrainState", "flax.optim Optimizer", "parameter tree"
  int64_t stored_step = -1;  // the state's own step counter, when the file has one
  int64_t ignored_leaves = 0;

  // The file a parameter came from (for error messages).
  std::string file_of(const std::string& path) const;
};

// Reads the replicated file, then every shard; checks that expert parameters are empty in the
// replicated file and present in every shard, and that nothing under the parameters is a non-array.
ReferenceParams read_reference_params(const CheckpointFiles& files);

// Whether a parameter path is sharded in the reference (its regex ".*expert.*").
bool is_expert_path(const std::string& path);

}  // namespace smx::importer
