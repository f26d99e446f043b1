// Models for fine-tuning: where the initial weights come from, the fresh task classifier, loading a
// fine-tuned model folder, and eval-mode predictions. The folder itself (config.json,
// model.safetensors, task.json with {"task", "num_outputs", "labels", "kind", "max_seq_len", "lr",
// "batch", "dev": {metrics}, "dev_score", "baseline": {metrics}, ...}) is read and written by
// model_folder::ModelFolder.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "smx/config/model_config.h"
#include "smx/finetune/task_data.h"
#include "smx/model/sparse_mixer.h"
#include "smx/tokenizer/tokenizer.h"

namespace smx::finetune {

struct InitSource {
  ModelConfig config;
  std::string weights;  // a .safetensors file
};

// `run_or_weights` is a pre-training run folder (DIR/config.json and DIR/model.safetensors, or
// the newest DIR/checkpoints/step-N/model.safetensors when the run has no final weights yet), a
// fine-tuned model folder, or a .safetensors file whose metadata records its config. `overrides`
// ("key=value") apply to the config (non-architecture keys such as capacity factors).
InitSource resolve_init(const std::string& run_or_weights,
                        const std::vector<std::string>& overrides = {});

// A SparseMixer with a fresh `num_outputs` classifier drawn from `seed` and every other tensor
// (encoder, pooler, MLM head) copied from `weights`. The file's recorded architecture and every
// tensor's name and shape are checked against `config` first (the file's own classifier, e.g. the
// 2-output NSP head, is dropped whatever its size); a mismatch is an smx::Error naming the file and
// the differing keys.
std::shared_ptr<model::SparseMixer> load_encoder_weights(const ModelConfig& config,
                                                         const std::string& weights,
                                                         int64_t num_outputs, uint64_t seed);

// The tokenizer a config records (or `override_path` when not empty), checked against it.
Tokenizer load_tokenizer_for(const ModelConfig& config, const std::string& override_path,
                             const std::string& what);

struct FinetunedModel {
  ModelConfig config;
  nlohmann::json task_info;  // task.json
  std::shared_ptr<model::SparseMixer> model;
};

// A fine-tuned model folder (with task.json), loaded through model_folder::ModelFolder.
FinetunedModel load_finetuned(const std::string& dir);

// Eval-mode outputs of every example, one row of num_outputs values each, in example order.
// Batches of `batch` examples (by length under `masked` padding); bf16 autocast with `bf16`.
std::vector<std::vector<float>> predict(model::SparseMixer& model, const EncodedExamples& data,
                                        int64_t batch, bool bf16, const at::Device& device);

// The outputs of the examples `rows` as one batch: [rows, num_outputs] fp32 on the CPU. The caller
// puts the model in eval mode and disables gradients (predict() does).
at::Tensor predict_batch(model::SparseMixer& model, const EncodedExamples& data,
                         const std::vector<size_t>& rows, bool bf16, const at::Device& device);

}  // namespace smx::finetune
