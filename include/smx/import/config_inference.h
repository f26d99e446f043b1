// The smx config of a reference checkpoint, read off its tensors' shapes and layer names, plus the
// settings the release documents (sparse_mixers/README.md, configs/base.py) that no tensor shows:
// capacity factors (Fast Sparse Mixer: 0.5, told apart by the release's name), experts-choose
// routing, groups of 4096 tokens, min capacity 4, `reference` padding.
#pragma once

#include <set>
#include <string>
#include <vector>

#include "smx/config/model_config.h"
#include "smx/import/reference_params.h"

namespace smx::importer {

struct InferredConfig {
  ModelConfig config;
  std::set<std::string> from_tensors;  // config keys the tensors determine
  std::vector<std::string> notes;      // how each setting was found (--inspect, the log)
};

// `labels` are the release's names (zip, folders) that tell Fast Sparse Mixer from Sparse Mixer.
// Fails naming the file and tensor when the tree is not a model smx can hold.
InferredConfig infer_config(const ReferenceParams& params, const std::vector<std::string>& labels);

// `given` (from --config) with its tensor-determined keys checked against the checkpoint; fails
// listing every key that differs. The other keys (capacity factors, routing, padding) are
// `given`'s.
ModelConfig reconcile_config(const InferredConfig& inferred, const ModelConfig& given,
                             const std::string& given_name, const std::string& source);

}  // namespace smx::importer
