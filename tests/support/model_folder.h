// Model folders for the serving tests: a tiny randomly initialised Sparse Mixer saved the way
// pre-training (config.json + model.safetensors) or fine-tuning (+ task.json) saves it, with the
// tiny test tokenizer.
#pragma once

#include <string>

#include "smx/config/model_config.h"

namespace smx::testing {

// tiny_config() sized for the tiny tokenizer's vocabulary and 64-token inputs.
ModelConfig tiny_serving_config(Padding padding = Padding::kMasked);

// Writes <dir> with config.json and model.safetensors; `task_json` (if not empty) as task.json,
// in which case the classification head gets `num_outputs` outputs.
void write_model_folder(const std::string& dir, const ModelConfig& config,
                        const std::string& task_json = "", int64_t num_outputs = 2,
                        uint64_t seed = 7);

}  // namespace smx::testing
