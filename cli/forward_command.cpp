// smx forward: run a model in eval mode on token ids from JSON and save every output as
// safetensors, so that outside tools can check the numerics. Input format: docs/forward-input.md.
#include <fstream>

#include <fmt/format.h>
#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "model_options.h"
#include "smx/core/error.h"
#include "smx/core/threads.h"
#include "smx/data/forward_input.h"
#include "smx/io/safetensors.h"
#include "smx/model/dense.h"
#include "smx/model/model_weights.h"
#include "smx/model/sparse_mixer.h"

namespace smx::cli {

void register_forward_command(CLI::App& app) {
  struct Options {
    ModelOptions model;
    std::string weights, input, out;
    int threads = 0;
  };
  auto o = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand("forward", "Eval-mode forward pass on ids from JSON");
  add_model_options(cmd, o->model);
  cmd->add_option("--weights,-w", o->weights, "Weights .safetensors (from smx init or training)")
      ->required();
  cmd->add_option("--input,-i", o->input,
                  "JSON: {\"input_ids\": [[...]], \"type_ids\": ..., "
                  "\"masked_lm_positions\": ...}")
      ->required();
  cmd->add_option("--out,-o", o->out, "Output .safetensors")->required();
  cmd->add_option("--threads", o->threads, "Intra-op threads (0: every core)");
  cmd->callback([o] {
    const ModelConfig config = o->model.load();
    std::ifstream in(o->input);
    if (!in) fail("cannot open input file '{}'", o->input);
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const data::ForwardInput input = data::parse_forward_input(text, config, o->input);
    configure_threads(o->threads);
    const torch::Device device(o->model.device);
    model::check_config_fits_file(config, o->weights);
    const auto model = [&] {
      model::SkipParameterInit overwritten_below;  // every parameter comes from the file
      return model::make_sparse_mixer(config, 0);
    }();
    model::load_model_weights(*model, o->weights);
    model->to(device);
    model->eval();
    torch::NoGradGuard no_grad;
    const at::Tensor& positions = input.masked_lm_positions;
    const auto out = model->forward(input.input_ids.to(device), input.type_ids.to(device),
                                    positions.defined() ? positions.to(device) : positions);
    std::vector<io::NamedTensor> tensors = {
        {"input_ids", input.input_ids},     {"hidden", out.encoder.hidden},
        {"pooled", out.encoder.pooled},     {"nsp_logits", out.classification_logits},
        {"aux_loss", out.encoder.aux_loss}, {"z_loss", out.encoder.z_loss},
    };
    if (out.mlm_logits.defined()) tensors.push_back({"mlm_logits", out.mlm_logits});
    io::write_safetensors(o->out, tensors, {{"smx.config", config.to_json().dump()}});
    fmt::print("wrote {}: hidden [{}, {}, {}]\n", o->out, out.encoder.hidden.size(0),
               out.encoder.hidden.size(1), out.encoder.hidden.size(2));
  });
}

}  // namespace smx::cli
