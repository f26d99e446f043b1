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
#include "smx/data/batch_padding.h"
#include "smx/io/safetensors.h"
#include "smx/model/model_weights.h"
#include "smx/model/sparse_mixer.h"

namespace smx::cli {
namespace {

using json = nlohmann::json;

std::vector<std::vector<int64_t>> read_rows(const json& j, const std::string& key,
                                            const std::string& path) {
  if (!j.is_array() || j.empty())
    fail("{}: '{}' must be a non-empty list of lists of integers", path, key);
  std::vector<std::vector<int64_t>> rows;
  for (size_t i = 0; i < j.size(); ++i) {
    if (!j[i].is_array()) fail("{}: {}[{}] is not a list of integers", path, key, i);
    std::vector<int64_t> row;
    for (size_t t = 0; t < j[i].size(); ++t) {
      if (!j[i][t].is_number_integer())
        fail("{}: {}[{}][{}] = {} is not an integer", path, key, i, t, j[i][t].dump());
      row.push_back(j[i][t].get<int64_t>());
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

}  // namespace

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
    json j = json::parse(in, nullptr, false);
    if (j.is_discarded() || !j.is_object())
      fail("{}: not a JSON object (see docs/forward-input.md)", o->input);
    for (const auto& [key, value] : j.items())
      if (key != "input_ids" && key != "type_ids" && key != "masked_lm_positions")
        fail("{}: unknown key '{}' (expected input_ids, type_ids, masked_lm_positions)", o->input,
             key);
    if (!j.contains("input_ids")) fail("{}: missing 'input_ids'", o->input);
    const auto ids = read_rows(j["input_ids"], "input_ids", o->input);
    size_t longest = 0;
    for (const auto& row : ids) {
      longest = std::max(longest, row.size());
      for (int64_t id : row)
        if (id < 0 || id >= config.vocab_size)
          fail("{}: token id {} is outside the vocabulary [0, {})", o->input, id,
               config.vocab_size);
    }
    if (longest == 0 || static_cast<int64_t>(longest) > config.max_seq_len)
      fail("{}: sequences must have 1 to max_seq_len = {} tokens (longest has {})", o->input,
           config.max_seq_len, longest);
    const int64_t N = config.padded_length(static_cast<int64_t>(longest));
    const at::Tensor input_ids = data::pad_sequences(ids, N, config.pad_id);
    at::Tensor type_ids = torch::zeros_like(input_ids);
    if (j.contains("type_ids")) {
      const auto types = read_rows(j["type_ids"], "type_ids", o->input);
      if (types.size() != ids.size())
        fail("{}: type_ids has {} rows, input_ids {}", o->input, types.size(), ids.size());
      for (size_t b = 0; b < ids.size(); ++b)
        if (types[b].size() != ids[b].size())
          fail("{}: type_ids[{}] has {} entries, input_ids[{}] has {}", o->input, b,
               types[b].size(), b, ids[b].size());
      type_ids = data::pad_sequences(types, N, 0);
      if (type_ids.min().item<int64_t>() < 0 ||
          type_ids.max().item<int64_t>() >= config.type_vocab_size)
        fail("{}: type ids must be in [0, {})", o->input, config.type_vocab_size);
    }
    at::Tensor positions;
    if (j.contains("masked_lm_positions")) {
      const auto pos = read_rows(j["masked_lm_positions"], "masked_lm_positions", o->input);
      if (pos.size() != ids.size())
        fail("{}: masked_lm_positions needs one row per sequence", o->input);
      size_t P = 1;
      for (const auto& row : pos) P = std::max(P, row.size());
      positions = data::pad_sequences(pos, static_cast<int64_t>(P), 0);
      if (positions.min().item<int64_t>() < 0 || positions.max().item<int64_t>() >= N)
        fail("{}: masked_lm_positions must be in [0, {})", o->input, N);
    }

    configure_threads(o->threads);
    const torch::Device device(o->model.device);
    auto model = model::make_sparse_mixer(config, 0);
    model::load_model_weights(*model, o->weights);
    model->to(device);
    model->eval();
    torch::NoGradGuard no_grad;
    const auto out = model->forward(input_ids.to(device), type_ids.to(device),
                                    positions.defined() ? positions.to(device) : positions);
    std::vector<io::NamedTensor> tensors = {
        {"input_ids", input_ids},           {"hidden", out.encoder.hidden},
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
