// Saving and loading any torch::nn::Module's parameters and buffers as safetensors.
// Tensor names are those of named_parameters() and named_buffers() (e.g. "encoder.0.fc.weight").
#pragma once

#include <map>
#include <string>

#include <torch/nn/module.h>

#include "smx/io/safetensors.h"

namespace smx::io {

struct WeightLoadOptions {
  // Weights holding NaN or Inf are refused by default: a model that diverged (or a corrupt file)
  // would otherwise answer every request with NaN scores and a label picked from them.
  bool allow_nonfinite = false;
};

// Writes every defined parameter and buffer (atomically, see write_safetensors).
void save_module_weights(const torch::nn::Module& module, const std::string& path,
                         const std::map<std::string, std::string>& metadata = {});

// Copies the file's tensors into the module's existing parameters and buffers, keeping their
// device and dtype. Every name, shape and dtype is checked before anything is copied; on a
// mismatch the module is untouched and the smx::Error lists all missing, unexpected, wrong-shape
// and wrong-dtype tensors, then (unless allowed) that every value is finite. Returns the file's
// metadata.
std::map<std::string, std::string> load_module_weights(torch::nn::Module& module,
                                                       const std::string& path,
                                                       const WeightLoadOptions& options = {});

// The same for a file already read; `path` names it in errors.
std::map<std::string, std::string> load_module_weights(torch::nn::Module& module,
                                                       SafetensorsFile file,
                                                       const std::string& path,
                                                       const WeightLoadOptions& options = {});

}  // namespace smx::io
