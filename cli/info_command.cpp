// smx info: parameters, FLOPs and the layer plan of one or more configs.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include <fmt/format.h>

#include "commands.h"
#include "smx/accounting/accounting.h"
#include "smx/core/error.h"
#include "smx/core/json.h"

namespace smx::cli {
namespace {

std::string with_commas(int64_t n) {
  std::string digits = std::to_string(n < 0 ? -n : n), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return (n < 0 ? "-" : "") + out;
}

// Runs of consecutive layers with the same sublayers: "layers  5-8 : linear + moe".
std::string layer_plan(const ModelConfig& c) {
  auto kind = [&](int64_t l) {
    return accounting::mixing_name(c, l) + " + " + (c.is_moe_layer(l) ? "moe" : "mlp");
  };
  std::string plan;
  for (int64_t first = 0, l = 1; l <= c.num_layers; ++l) {
    if (l < c.num_layers && kind(l) == kind(first)) continue;
    const std::string range =
        l - 1 == first ? std::to_string(first) : fmt::format("{}-{}", first, l - 1);
    plan += fmt::format("    layers {:<6} {}\n", range, kind(first));
    first = l;
  }
  return plan;
}

void print_info(const ModelConfig& c, int64_t seq_len) {
  const accounting::Report r = accounting::account(c, seq_len);
  const int64_t N = seq_len > 0 ? seq_len : c.max_seq_len;
  fmt::print("== {} ==\n", c.name);
  fmt::print(
      "  arch {}  layers {}  d_emb {}  d_model {}  d_ff {}  heads {}  vocab {}  max_seq_len {}\n",
      c.model_arch, c.num_layers, c.d_emb, c.d_model, c.d_ff, c.num_heads, c.vocab_size,
      c.max_seq_len);
  if (c.num_moe_layers > 0)
    fmt::print(
        "  moe: {} layers ({}), {} experts of d_ff {}, {}, capacity factor train {} / eval "
        "{}, group {} tokens -> capacity {} per expert\n",
        c.num_moe_layers, to_string(c.moe_layout), c.num_experts, c.expert_d_ff,
        c.dispatch_algorithm, c.train_capacity_factor, c.eval_capacity_factor, r.tokens_per_group,
        r.expert_capacity);
  fmt::print("  padding {}  routing groups {}\n", to_string(c.padding), c.routing_groups());
  fmt::print("  layer plan:\n{}", layer_plan(c));
  fmt::print("  {:<20} {:>14} {:>12} {:>14}\n", "component", "parameters", "GFLOPs/ex",
             "+einsum GFLOPs");
  for (const auto& p : r.components)
    fmt::print("  {:<20} {:>14} {:>12.3f} {:>14.3f}\n", p.name, with_commas(p.parameters), p.gflops,
               p.einsum_gflops);
  fmt::print("  {:<20} {:>14} {:>12.3f}\n", "encoder total", with_commas(r.encoder_parameters),
             r.encoder_gflops);
  fmt::print("  {:<20} {:>14} {:>12.3f}   ({} MLM predictions)\n", r.heads.name,
             with_commas(r.heads.parameters), r.heads.gflops, r.mlm_predictions);
  fmt::print("  {:<20} {:>14} {:>12.3f}   (+{:.3f} with the reference einsum dispatch = {:.1f})\n",
             "with heads", with_commas(r.total_parameters), r.total_gflops, r.einsum_gflops,
             r.total_gflops + r.einsum_gflops);
  fmt::print("  {:<20} {:>14}   (one expert per MoE layer)\n", "active per token",
             with_commas(r.active_parameters));
  fmt::print("  GFLOPs are forward, per example of {} tokens.\n\n", N);
}

// The metadata of a safetensors file, reading only its header.
std::map<std::string, std::string> weights_metadata(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  unsigned char size_bytes[8] = {};
  if (!in.read(reinterpret_cast<char*>(size_bytes), 8)) fail("{}: not a safetensors file", path);
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | size_bytes[i];
  std::error_code ec;
  if (n > (uint64_t{100} << 20) || n + 8 > std::filesystem::file_size(path, ec))
    fail("{}: header size {} is impossible; the file is damaged", path, n);
  std::string header(n, '\0');
  if (!in.read(header.data(), static_cast<std::streamsize>(n))) fail("{}: truncated header", path);
  const auto j = parse_json(header, path);
  std::map<std::string, std::string> out;
  if (j.is_object() && j.contains("__metadata__") && j["__metadata__"].is_object())
    for (const auto& [k, v] : j["__metadata__"].items())
      if (v.is_string()) out[k] = v.get<std::string>();
  return out;
}

// A model folder: where its weights came from (smx import records source and step), then its
// config's report.
void print_folder(const std::string& dir, const std::vector<std::string>& overrides,
                  int64_t seq_len) {
  const std::string config = dir + "/config.json", weights = dir + "/model.safetensors";
  if (!std::filesystem::exists(config))
    fail("{}: no config.json; pass a model folder (smx pretrain / finetune / import --out)", dir);
  fmt::print("model folder {}\n", dir);
  if (std::filesystem::exists(weights)) {
    const auto meta = weights_metadata(weights);
    auto get = [&](const char* key) {
      const auto it = meta.find(key);
      return it == meta.end() ? std::string() : it->second;
    };
    if (!get("smx.import.source").empty()) {
      fmt::print("  imported from {}\n", get("smx.import.source"));
      fmt::print("  files {}\n  step {}  format {}\n", get("smx.import.files"),
                 get("smx.import.step"), get("smx.import.format"));
    }
    if (!get("smx.task").empty()) fmt::print("  fine-tuned on {}\n", get("smx.task"));
  }
  print_info(load_model_config(config, overrides), seq_len);
}

}  // namespace

void register_info_command(CLI::App& app) {
  struct Options {
    std::vector<std::string> configs;
    std::vector<std::string> folders;
    std::vector<std::string> overrides;
    int64_t seq_len = 0;
    bool list = false;
  };
  auto options = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand("info", "Parameters, FLOPs and layer plan of model configs");
  cmd->add_option("--config,-c", options->configs,
                  "Preset names or JSON files (default: the paper's three Base models)");
  cmd->add_option("--set", options->overrides, "Override a config key: --set key=value");
  cmd->add_option("--seq-len", options->seq_len, "Sequence length for FLOPs (default max_seq_len)");
  cmd->add_flag("--list", options->list, "List the presets in configs/");
  cmd->add_option("folders", options->folders,
                  "Model folders (config.json + model.safetensors); an imported one also shows "
                  "its source file and step");
  cmd->callback([options] {
    if (options->list) {
      for (const auto& name : preset_names()) fmt::print("{}\n", name);
      return;
    }
    for (const auto& dir : options->folders)
      print_folder(dir, options->overrides, options->seq_len);
    if (!options->folders.empty() && options->configs.empty()) return;
    std::vector<std::string> configs = options->configs;
    if (configs.empty()) configs = {"bert-base", "sparse-mixer-base", "fast-sparse-mixer-base"};
    for (const auto& name : configs)
      print_info(load_model_config(name, options->overrides), options->seq_len);
  });
}

}  // namespace smx::cli
