#include "smx/finetune/task_model.h"

#include <filesystem>

#include <torch/torch.h>

#include "smx/core/autocast.h"
#include "smx/core/error.h"
#include "smx/core/json.h"
#include "smx/io/safetensors.h"
#include "smx/io/text_file.h"
#include "smx/model/model_weights.h"

namespace smx::finetune {
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

// Newest DIR/checkpoints/step-N/model.safetensors, or "" when there is none.
std::string newest_checkpoint_weights(const fs::path& run) {
  const fs::path folder = run / "checkpoints";
  if (!fs::is_directory(folder)) return "";
  std::string best;
  int64_t best_step = -1;
  for (const auto& entry : fs::directory_iterator(folder)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("step-", 0) != 0 || !fs::exists(entry.path() / "model.safetensors")) continue;
    const int64_t step = std::strtoll(name.c_str() + 5, nullptr, 10);
    if (step > best_step) {
      best_step = step;
      best = (entry.path() / "model.safetensors").string();
    }
  }
  return best;
}

// Number of outputs of the classifier stored in a weights file.
int64_t stored_outputs(const std::string& path) {
  const io::SafetensorsFile file = io::read_safetensors(path);
  for (const auto& t : file.tensors)
    if (t.name == "classification.kernel" && t.tensor.dim() == 2) return t.tensor.size(1);
  fail(
      "weights file '{}' has no 'classification.kernel' [D, outputs] tensor; is it a SparseMixer "
      "saved by smx init, smx pretrain or smx finetune?",
      path);
}

}  // namespace

InitSource resolve_init(const std::string& run_or_weights,
                        const std::vector<std::string>& overrides) {
  const fs::path path(run_or_weights);
  if (fs::is_directory(path)) {
    const fs::path config = path / "config.json";
    if (!fs::exists(config))
      fail(
          "--init '{}': the folder has no config.json; pass a pre-training run folder (smx "
          "pretrain --out), a fine-tuned model folder, or a .safetensors file",
          run_or_weights);
    InitSource s{load_model_config(config.string(), overrides),
                 (path / "model.safetensors").string()};
    if (!fs::exists(s.weights)) s.weights = newest_checkpoint_weights(path);
    if (s.weights.empty())
      fail(
          "--init '{}': no model.safetensors and no checkpoints/step-N/model.safetensors; has the "
          "run saved any weights yet?",
          run_or_weights);
    return s;
  }
  if (!fs::exists(path))
    fail(
        "--init '{}': no such file or folder; pass a pre-training run folder or a .safetensors "
        "file",
        run_or_weights);
  ModelConfig config = model::recorded_config(run_or_weights);
  if (!overrides.empty()) {  // "key=value", the value parsed as JSON when it parses (as --set)
    json j = config.to_json();
    for (const auto& text : overrides) {
      const auto eq = text.find('=');
      if (eq == std::string::npos || eq == 0)
        fail("--set '{}' is not key=value (for example --set eval_capacity_factor=2)", text);
      const std::string value = text.substr(eq + 1);
      j[text.substr(0, eq)] = json_is_valid(value) ? parse_json(value, "--set " + text) : json(value);
    }
    config = ModelConfig::from_json(j, run_or_weights + " (recorded config with --set)");
  }
  return {config, run_or_weights};
}

std::shared_ptr<model::SparseMixer> load_encoder_weights(const ModelConfig& config,
                                                         const std::string& weights,
                                                         int64_t num_outputs, uint64_t seed) {
  // Load the whole file (with its own head size) into a scratch model: that checks the recorded
  // architecture and every tensor before anything is used.
  model::check_config_fits_file(config, weights);
  model::SparseMixer pretrained(config, stored_outputs(weights));
  model::load_model_weights(pretrained, weights);
  auto fresh = model::make_sparse_mixer(config, seed, num_outputs);
  const auto source = pretrained.named_parameters();
  torch::NoGradGuard no_grad;
  for (auto& p : fresh->named_parameters()) {
    if (p.key().rfind("classification.", 0) == 0) continue;  // the task head stays fresh
    p.value().copy_(source[p.key()]);
  }
  const auto source_buffers = pretrained.named_buffers();
  for (auto& b : fresh->named_buffers()) b.value().copy_(source_buffers[b.key()]);
  return fresh;
}

void check_tokenizer(const Tokenizer& tok, const ModelConfig& config, const std::string& what) {
  if (tok.vocab_size() != config.vocab_size)
    fail(
        "tokenizer '{}' has {} pieces but {} (config '{}') has vocab_size {}: the checkpoint "
        "was trained with another vocabulary; pass the tokenizer it was trained with (--tokenizer)",
        tok.path(), tok.vocab_size(), what, config.name, config.vocab_size);
  if (tok.pad_id() != config.pad_id)
    fail("tokenizer '{}' pads with id {} but {} (config '{}') has pad_id {}", tok.path(),
         tok.pad_id(), what, config.name, config.pad_id);
}

Tokenizer load_tokenizer_for(const ModelConfig& config, const std::string& override_path,
                             const std::string& what) {
  const std::string path = override_path.empty() ? config.tokenizer : override_path;
  if (path.empty())
    fail("{} records no tokenizer (config key \"tokenizer\"); pass --tokenizer", what);
  Tokenizer tok = Tokenizer::load(path);
  check_tokenizer(tok, config, what);
  return tok;
}

void save_finetuned(const std::string& dir, const model::SparseMixer& model,
                    const ModelConfig& config, const json& task_info,
                    std::map<std::string, std::string> metadata) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) fail("cannot create model folder '{}': {}", dir, ec.message());
  io::write_file_atomically(dir + "/config.json", config.to_json().dump(2) + "\n");
  if (!task_info.is_null()) metadata["smx.task"] = task_info.value("task", "");
  model::save_model_weights(model, dir + "/model.safetensors", std::move(metadata));
  if (!task_info.is_null())
    io::write_file_atomically(dir + "/task.json", task_info.dump(2) + "\n");
}

FinetunedModel load_finetuned(const std::string& dir) {
  const std::string task_path = dir + "/task.json";
  if (!fs::exists(task_path))
    fail("--model '{}': no task.json; pass the --out folder of smx finetune", dir);
  FinetunedModel m;
  m.task_info = parse_json(io::read_text_file(task_path), task_path);
  if (!m.task_info.is_object()) fail("{}: not a JSON object", task_path);
  if (!m.task_info.contains("num_outputs") || !m.task_info["num_outputs"].is_number_integer())
    fail("{}: missing integer field 'num_outputs'", task_path);
  if (!m.task_info.contains("task") || !m.task_info["task"].is_string())
    fail("{}: missing string field 'task'", task_path);
  m.config = load_model_config(dir + "/config.json");
  model::check_config_fits_file(m.config, dir + "/model.safetensors");
  m.model =
      std::make_shared<model::SparseMixer>(m.config, m.task_info["num_outputs"].get<int64_t>());
  model::load_model_weights(*m.model, dir + "/model.safetensors");
  return m;
}

std::vector<std::vector<float>> predict(model::SparseMixer& model, const EncodedExamples& data,
                                        int64_t batch, bool bf16, const at::Device& device) {
  const ModelConfig& config = model.config();
  const bool was_training = model.is_training();
  model.eval();
  torch::NoGradGuard no_grad;
  std::vector<std::vector<float>> outputs(data.size());
  for (const auto& rows :
       inference_batches(data.lengths(), batch, config.padding == Padding::kMasked)) {
    const at::Tensor logits = predict_batch(model, data, rows, bf16, device);  // [B, K]
    const int64_t K = logits.size(1);
    const float* p = logits.data_ptr<float>();
    for (size_t i = 0; i < rows.size(); ++i)
      outputs[rows[i]].assign(p + static_cast<int64_t>(i) * K, p + static_cast<int64_t>(i + 1) * K);
  }
  model.train(was_training);
  return outputs;
}

at::Tensor predict_batch(model::SparseMixer& model, const EncodedExamples& data,
                         const std::vector<size_t>& rows, bool bf16, const at::Device& device) {
  const TaskBatch b = make_batch(data, rows, model.config(), device);
  at::Tensor logits;
  {
    AutocastScope autocast(bf16, device);
    logits = model.forward(b.input_ids, b.type_ids).classification_logits;
  }
  return logits.to(torch::kFloat).cpu().contiguous();
}

}  // namespace smx::finetune
