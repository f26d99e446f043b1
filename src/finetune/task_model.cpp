#include "smx/finetune/task_model.h"

#include <filesystem>

#include <torch/torch.h>

#include "smx/core/autocast.h"
#include "smx/core/error.h"
#include "smx/core/json.h"
#include "smx/io/safetensors.h"
#include "smx/io/text_file.h"
#include "smx/model/dense.h"
#include "smx/model/model_weights.h"
#include "smx/model_folder/model_folder.h"

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
      j[text.substr(0, eq)] =
          json_is_valid(value) ? parse_json(value, "--set " + text) : json(value);
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
  io::SafetensorsFile file = io::read_safetensors(weights);
  // Only the scratch model skips the random init: `fresh` below draws its classifier from `seed`.
  const auto scratch = [&] {
    model::SkipParameterInit overwritten_below;
    return std::make_shared<model::SparseMixer>(config, model::classifier_outputs(file, weights));
  }();
  model::SparseMixer& pretrained = *scratch;
  model::load_model_weights(pretrained, std::move(file), weights);
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

Tokenizer load_tokenizer_for(const ModelConfig& config, const std::string& override_path,
                             const std::string& what) {
  const std::string path = override_path.empty() ? config.tokenizer : override_path;
  if (path.empty())
    fail("{} records no tokenizer (config key \"tokenizer\"); pass --tokenizer", what);
  Tokenizer tok = Tokenizer::load(path);
  model_folder::check_tokenizer(tok, config, what);
  return tok;
}

FinetunedModel load_finetuned(const std::string& dir) {
  const auto folder = model_folder::ModelFolder::open(dir);
  if (!folder.task())
    fail("--model '{}': no task.json; pass the --out folder of smx finetune", dir);
  return {folder.config(), folder.task()->record, folder.load_model()};
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
  const Batch b = make_batch(data, rows, model.config(), device);
  at::Tensor logits;
  {
    AutocastScope autocast(bf16, device);
    logits = model.forward(b.input_ids, b.type_ids).classification_logits;
  }
  return logits.to(torch::kFloat).cpu().contiguous();
}

}  // namespace smx::finetune
