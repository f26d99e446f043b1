// A model folder: what `smx pretrain`, `smx finetune` and `smx import` write, and what every
// command that runs a model reads (`smx finetune --init`, evaluate, predict, embed / classify /
// score, serve):
//   config.json        the ModelConfig; its "tokenizer" names the tokenizer model
//   model.safetensors  the weights, with the config recorded in their metadata ("smx.config")
//   task.json          fine-tuned models only: TaskInfo plus the fine-tuning record
//   embedding.json     optional: default pooling and normalisation
//   (model_folder/embedding_defaults.h)
// This is the one reader and writer of those files: the task kind is parsed once, into a type, and
// the tokenizer is checked against the config in one place.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "smx/config/model_config.h"
#include "smx/io/weights.h"
#include "smx/model/sparse_mixer.h"
#include "smx/model_folder/embedding_defaults.h"
#include "smx/tasks/task_registry.h"
#include "smx/tokenizer/tokenizer.h"

namespace smx::model_folder {

// task.json, typed.
struct TaskInfo {
  std::string task;  // canonical task name, e.g. "sst-2"
  tasks::TaskKind kind = tasks::TaskKind::kClassification;
  int64_t num_outputs = 2;
  std::vector<std::string> labels;  // one per output for classification kinds, else empty
  int64_t max_seq_len = 0;          // 0 = the model's max_seq_len
  nlohmann::json record = nlohmann::json::object();  // the whole file (hyper-parameters, metrics)

  // classification and grouped outputs are class logits; regression and ranking one score.
  bool has_classes() const;
};

// "classification", "regression", "ranking" or "grouped" (task.json's "kind").
const char* task_kind_name(tasks::TaskKind kind);
// Checks and types a task.json object; `source` names the file in errors.
TaskInfo parse_task_info(const nlohmann::json& j, const std::string& source);

// Fails unless `tokenizer` is the one the model was trained with: as many pieces as the config's
// vocab_size and the same pad id. `what` names the model in the message.
void check_tokenizer(const Tokenizer& tokenizer, const ModelConfig& config,
                     const std::string& what);

class ModelFolder {
 public:
  // Reads config.json (or, without it, the config recorded in model.safetensors) and task.json,
  // and checks that the weights file exists and can hold the config's parameters. A non-empty
  // `tokenizer` replaces the config's tokenizer path.
  static ModelFolder open(const std::string& dir, const std::string& tokenizer = "");

  // Writes config.json, model.safetensors (with `metadata` added to its own) and, unless
  // `task_record` is null, task.json; each file atomically, the folder created if missing.
  static void write(const std::string& dir, const model::SparseMixer& model,
                    const ModelConfig& config, const nlohmann::json& task_record = nullptr,
                    std::map<std::string, std::string> metadata = {});

  // Writes embedding.json atomically into an existing folder.
  static void write_embedding_defaults(const std::string& dir, const EmbeddingDefaults& defaults);

  const std::string& dir() const { return dir_; }
  const ModelConfig& config() const { return config_; }
  const std::optional<TaskInfo>& task() const { return task_; }
  // embedding.json, else what sentence-transformers files in the folder itself declare
  // (modules.json, 1_Pooling/config.json), else nullopt (pooler output, not normalised).
  const std::optional<EmbeddingDefaults>& embedding() const { return embedding_; }
  std::string weights_path() const { return dir_ + "/model.safetensors"; }
  // The folder name, for what /v1/models and /info call the model.
  std::string name() const;

  // The model with the folder's weights, in eval mode. Its classifier has task.json's num_outputs,
  // or for a pre-trained folder the weights file's own (the NSP head's 2).
  std::shared_ptr<model::SparseMixer> load_model(const io::WeightLoadOptions& options = {}) const;
  // The config's tokenizer, checked with check_tokenizer.
  Tokenizer load_tokenizer() const;

 private:
  std::string dir_;
  ModelConfig config_;
  std::optional<TaskInfo> task_;
  std::optional<EmbeddingDefaults> embedding_;
};

}  // namespace smx::model_folder
