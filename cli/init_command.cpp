// smx init: draw a model's initial weights from a seed and save them as safetensors.
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "model_options.h"
#include "smx/model/model_weights.h"
#include "smx/model/sparse_mixer.h"

namespace smx::cli {

void register_init_command(CLI::App& app) {
  struct Options {
    ModelOptions model;
    uint64_t seed = 0;
    std::string out;
  };
  auto o = std::make_shared<Options>();
  CLI::App* cmd =
      app.add_subcommand("init", "Initialise a model (docs/design.md §1.6) and save its weights");
  add_model_options(cmd, o->model, /*with_device=*/false);
  cmd->add_option("--seed", o->seed, "Random seed")->capture_default_str();
  cmd->add_option("--out,-o", o->out, "Output .safetensors file")->required();
  cmd->callback([o] {
    const ModelConfig config = o->model.load();
    auto model = model::make_sparse_mixer(config, o->seed);
    model::save_model_weights(*model, o->out);
    int64_t count = 0;
    for (const auto& p : model->parameters()) count += p.numel();
    fmt::print("wrote {} ({} parameters, seed {})\n", o->out, count, o->seed);
  });
}

}  // namespace smx::cli
