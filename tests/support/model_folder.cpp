#include "support/model_folder.h"

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "smx/model/model_weights.h"
#include "smx/model/sparse_mixer.h"
#include "support/test_util.h"
#include "support/tiny_tokenizer.h"

namespace smx::testing {

ModelConfig tiny_serving_config(Padding padding) {
  ModelConfig c = tiny_config("linear", padding);
  c.name = std::string("tiny-serve-") + (padding == Padding::kMasked ? "masked" : "reference");
  c.vocab_size = tiny_tokenizer()->vocab_size();
  c.max_seq_len = 64;
  c.tokenizer = tiny_tokenizer()->path();
  c.validate();
  return c;
}

void write_model_folder(const std::string& dir, const ModelConfig& config,
                        const std::string& task_json, int64_t num_outputs, uint64_t seed) {
  std::filesystem::create_directories(dir);
  auto model = model::make_sparse_mixer(config, seed, task_json.empty() ? 2 : num_outputs);
  model::save_model_weights(*model, dir + "/model.safetensors");
  std::ofstream(dir + "/config.json") << config.to_json().dump(2) << "\n";
  if (!task_json.empty()) std::ofstream(dir + "/task.json") << task_json << "\n";
}

}  // namespace smx::testing
