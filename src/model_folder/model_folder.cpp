#include "smx/model_folder/model_folder.h"

#include <filesystem>

#include "smx/core/error.h"
#include "smx/core/json.h"
#include "smx/io/safetensors.h"
#include "smx/io/text_file.h"
#include "smx/model/dense.h"
#include "smx/model/model_weights.h"

namespace smx::model_folder {
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

constexpr tasks::TaskKind kKinds[] = {tasks::TaskKind::kClassification,
                                      tasks::TaskKind::kRegression, tasks::TaskKind::kRanking,
                                      tasks::TaskKind::kGrouped};

}  // namespace

bool TaskInfo::has_classes() const {
  return kind == tasks::TaskKind::kClassification || kind == tasks::TaskKind::kGrouped;
}

const char* task_kind_name(tasks::TaskKind kind) {
  switch (kind) {
    case tasks::TaskKind::kClassification:
      return "classification";
    case tasks::TaskKind::kRegression:
      return "regression";
    case tasks::TaskKind::kRanking:
      return "ranking";
    case tasks::TaskKind::kGrouped:
      return "grouped";
  }
  return "classification";
}

TaskInfo parse_task_info(const json& j, const std::string& source) {
  if (!j.is_object()) fail("{}: not a JSON object", source);
  TaskInfo t;
  t.record = j;
  if (!j.contains("task") || !j["task"].is_string())
    fail("{}: missing string field 'task'", source);
  t.task = j["task"].get<std::string>();
  if (j.contains("kind")) {
    const json& kind = j["kind"];
    bool known = false;
    for (const tasks::TaskKind k : kKinds)
      if (kind.is_string() && kind.get<std::string>() == task_kind_name(k)) {
        t.kind = k;
        known = true;
      }
    if (!known)
      fail("{}: kind {} is not one of classification, regression, ranking, grouped", source,
           kind.dump());
  }
  if (!j.contains("num_outputs") || !j["num_outputs"].is_number_integer() ||
      j["num_outputs"].get<int64_t>() < 1)
    fail("{}: 'num_outputs' must be a positive integer", source);
  t.num_outputs = j["num_outputs"].get<int64_t>();
  if (j.contains("labels")) {
    if (!j["labels"].is_array()) fail("{}: 'labels' must be a list of strings", source);
    for (const auto& label : j["labels"]) {
      if (!label.is_string()) fail("{}: 'labels' must be a list of strings", source);
      t.labels.push_back(label.get<std::string>());
    }
  }
  if (j.contains("max_seq_len")) {
    if (!j["max_seq_len"].is_number_integer() || j["max_seq_len"].get<int64_t>() < 2)
      fail("{}: 'max_seq_len' must be an integer >= 2", source);
    t.max_seq_len = j["max_seq_len"].get<int64_t>();
  }
  if (t.has_classes() && !t.labels.empty() &&
      static_cast<int64_t>(t.labels.size()) != t.num_outputs)
    fail("{}: {} labels for num_outputs = {}; give one label per output", source, t.labels.size(),
         t.num_outputs);
  return t;
}

void check_tokenizer(const Tokenizer& tok, const ModelConfig& config, const std::string& what) {
  if (tok.vocab_size() != config.vocab_size)
    fail(
        "tokenizer '{}' has {} pieces but {} (config '{}') has vocab_size {}: the model was "
        "trained with another vocabulary; pass the tokenizer it was trained with (--tokenizer)",
        tok.path(), tok.vocab_size(), what, config.name, config.vocab_size);
  if (tok.pad_id() != config.pad_id)
    fail("tokenizer '{}' pads with id {} but {} (config '{}') has pad_id {}", tok.path(),
         tok.pad_id(), what, config.name, config.pad_id);
}

ModelFolder ModelFolder::open(const std::string& dir, const std::string& tokenizer) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    fail("model folder '{}' does not exist (expected config.json + model.safetensors)", dir);
  ModelFolder f;
  f.dir_ = dir;
  const std::string weights = f.weights_path();
  if (!fs::exists(weights, ec))
    fail(
        "'{}' has no model.safetensors; pass a pre-training run, fine-tuned or imported model "
        "folder",
        dir);
  const std::string config_path = dir + "/config.json";
  f.config_ = fs::exists(config_path, ec)
                  ? ModelConfig::from_json(parse_json(io::read_text_file(config_path), config_path),
                                           config_path)
                  : model::recorded_config(weights);
  model::check_config_fits_file(f.config_, weights);
  if (!tokenizer.empty()) f.config_.tokenizer = tokenizer;
  const std::string task_path = dir + "/task.json";
  if (fs::exists(task_path, ec)) {
    f.task_ = parse_task_info(parse_json(io::read_text_file(task_path), task_path), task_path);
    if (f.task_->max_seq_len > f.config_.max_seq_len)
      fail("{}: max_seq_len {} exceeds the model's {}", task_path, f.task_->max_seq_len,
           f.config_.max_seq_len);
  }
  const std::string embedding_path = dir + "/embedding.json";
  f.embedding_ =
      fs::exists(embedding_path, ec)
          ? std::optional(parse_embedding_defaults(
                parse_json(io::read_text_file(embedding_path), embedding_path), embedding_path))
          : read_sentence_transformers_modules(dir);
  return f;
}

void ModelFolder::write_embedding_defaults(const std::string& dir,
                                           const EmbeddingDefaults& defaults) {
  if (!is_embedding_pooling(defaults.pooling))
    fail("embedding defaults for '{}': unknown pooling '{}'", dir, defaults.pooling);
  io::write_file_atomically(dir + "/embedding.json", to_json(defaults).dump(2) + "\n");
}

void ModelFolder::write(const std::string& dir, const model::SparseMixer& model,
                        const ModelConfig& config, const json& task_record,
                        std::map<std::string, std::string> metadata) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) fail("cannot create model folder '{}': {}", dir, ec.message());
  io::write_file_atomically(dir + "/config.json", config.to_json().dump(2) + "\n");
  if (!task_record.is_null()) metadata.emplace("smx.task", task_record.value("task", ""));
  model::save_model_weights(model, dir + "/model.safetensors", std::move(metadata));
  if (!task_record.is_null())
    io::write_file_atomically(dir + "/task.json", task_record.dump(2) + "\n");
}

std::string ModelFolder::name() const {
  const fs::path normal = fs::absolute(dir_).lexically_normal();
  // "dir/" normalises to a trailing empty name.
  return normal.filename().empty() ? normal.parent_path().filename().string()
                                   : normal.filename().string();
}

std::shared_ptr<model::SparseMixer> ModelFolder::load_model(
    const io::WeightLoadOptions& options) const {
  io::SafetensorsFile file = io::read_safetensors(weights_path());
  const int64_t outputs =
      task_ ? task_->num_outputs : model::classifier_outputs(file, weights_path());
  const auto model = [&] {
    model::SkipParameterInit overwritten_below;  // every parameter comes from the file
    return std::make_shared<model::SparseMixer>(config_, outputs);
  }();
  model::load_model_weights(*model, std::move(file), weights_path(), options);
  model->eval();
  return model;
}

Tokenizer ModelFolder::load_tokenizer() const {
  if (config_.tokenizer.empty())
    fail("{}: the config records no tokenizer (config key \"tokenizer\"); pass --tokenizer", dir_);
  Tokenizer tok = Tokenizer::load(config_.tokenizer);
  check_tokenizer(tok, config_, "model folder '" + dir_ + "'");
  return tok;
}

}  // namespace smx::model_folder
