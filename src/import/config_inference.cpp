#include "smx/import/config_inference.h"

#include <algorithm>
#include <cctype>
#include <map>

#include "smx/core/error.h"
#include "smx/import/flax_msgpack.h"

namespace smx::importer {
namespace {

// "encoder/attention_3/self/query/kernel" -> {"attention", 3}; {"", -1} for other paths.
std::pair<std::string, int64_t> layer_module(const std::string& path) {
  if (path.rfind("encoder/", 0) != 0) return {"", -1};
  const auto end = path.find('/', 8);
  const std::string module = path.substr(8, end == std::string::npos ? std::string::npos : end - 8);
  const auto us = module.find_last_of('_');
  if (us == std::string::npos || us + 1 == module.size() || module.size() - us > 6) return {"", -1};
  int64_t l = 0;
  for (size_t i = us + 1; i < module.size(); ++i) {
    if (!std::isdigit(static_cast<unsigned char>(module[i]))) return {"", -1};
    l = l * 10 + (module[i] - '0');
  }
  return {module.substr(0, us), l};
}

// The first layout (in `order`) whose replacement layers are exactly `layers`.
bool find_layout(const std::set<int64_t>& layers, int64_t num_layers,
                 const std::vector<Layout>& order, Layout& layout) {
  for (Layout candidate : order) {
    bool same = true;
    for (int64_t l = 0; l < num_layers && same; ++l)
      same = is_replacement(l, num_layers, static_cast<int64_t>(layers.size()), candidate) ==
             (layers.count(l) > 0);
    if (same) {
      layout = candidate;
      return true;
    }
  }
  return false;
}

std::string set_text(const std::set<int64_t>& s) {
  return s.empty() ? "none" : fmt::format("{}", fmt::join(s, ", "));
}

}  // namespace

InferredConfig infer_config(const ReferenceParams& params, const std::vector<std::string>& labels) {
  InferredConfig out;
  ModelConfig& c = out.config;
  auto tensor = [&](const std::string& path, size_t rank) -> const at::Tensor& {
    const auto it = params.dense.find(path);
    if (it == params.dense.end())
      fail("{}: missing tensor '{}', which every reference pre-training model has",
           params.file_of("encoder/embedder/word/embedding"), path);
    if (static_cast<size_t>(it->second.dim()) != rank)
      fail("{}: tensor '{}' has shape {}; a rank-{} tensor is expected", params.file_of(path), path,
           shape_text(it->second.sizes()), rank);
    return it->second;
  };
  const auto& word = tensor("encoder/embedder/word/embedding", 2);
  c.vocab_size = word.size(0);
  c.d_emb = word.size(1);
  c.max_seq_len = tensor("encoder/embedder/position/embedding", 3).size(1);
  c.type_vocab_size = tensor("encoder/embedder/type/embedding", 2).size(0);
  c.d_model = tensor("encoder/embedder/hidden_mapping_in/kernel", 2).size(1);
  // Parameter-free mixing (FNet/HNet) builds [N, N] transforms from N alone: bound N before any
  // model is built from a file that might claim 10^6 positions in a few megabytes.
  if (c.max_seq_len > 16384)
    fail(
        "{}: 'encoder/embedder/position/embedding' has {} positions; the released models have 512 "
        "and smx imports at most 16384",
        params.file_of("encoder/embedder/position/embedding"), c.max_seq_len);
  out.notes.push_back(fmt::format(
      "vocab_size {}, d_emb {} from encoder/embedder/word/embedding; max_seq_len {} from "
      "position/embedding; type_vocab_size {} from type/embedding; d_model {} from "
      "hidden_mapping_in/kernel",
      c.vocab_size, c.d_emb, c.max_seq_len, c.type_vocab_size, c.d_model));

  // Which modules each layer has.
  std::map<int64_t, std::set<std::string>> modules;
  auto note_module = [&](const std::string& path) {
    const auto [module, l] = layer_module(path);
    if (l >= 0) modules[l].insert(module);
  };
  for (const auto& [path, t] : params.dense) note_module(path);
  for (const auto& [path, t] : params.experts) note_module(path);
  std::set<int64_t> blocks, attention, moe;
  std::set<std::string> mixing;
  for (const auto& [l, mods] : modules) {
    if (mods.count("encoder")) blocks.insert(l);
    if (mods.count("attention")) attention.insert(l);
    if (mods.count("expert") || mods.count("router_weights")) moe.insert(l);
    for (const char* m : {"linear_transform", "circulant_transform", "toeplitz_transform"})
      if (mods.count(m)) mixing.insert(m);
  }
  c.num_layers = static_cast<int64_t>(blocks.size());
  if (c.num_layers == 0 || *blocks.rbegin() != c.num_layers - 1)
    fail(
        "{}: encoder blocks encoder_<l> are not numbered 0..L-1 (found {}); the tree is not a "
        "reference encoder",
        params.file_of("encoder/embedder/word/embedding"), set_text(blocks));

  if (static_cast<int64_t>(attention.size()) == c.num_layers) {
    c.model_arch = "bert";
  } else if (mixing.size() > 1) {
    fail("{}: layers mix with more than one kind ({}); the reference uses one per model",
         params.file_of("encoder/embedder/word/embedding"), fmt::join(mixing, ", "));
  } else if (mixing.empty()) {
    c.model_arch = "f_net";
    out.notes.push_back(
        "non-attention layers have no mixing parameters: FNet or HNet (the tensors cannot tell "
        "which; f_net assumed, pass --config to choose)");
  } else {
    const std::string m = *mixing.begin();
    c.model_arch = m == "linear_transform"      ? "linear"
                   : m == "circulant_transform" ? "c_net"
                                                : "t_net";
  }
  out.from_tensors = {"model_arch", "vocab_size", "type_vocab_size", "max_seq_len",
                      "d_emb",      "d_model",    "num_layers"};
  if (mixing.empty() && c.model_arch != "bert") out.from_tensors.erase("model_arch");

  c.num_attention_layers = static_cast<int64_t>(attention.size());
  c.attention_layout = Layout::kTop;
  if (!attention.empty()) {
    const auto& q =
        tensor("encoder/attention_" + std::to_string(*attention.begin()) + "/self/query/kernel", 3);
    c.num_heads = q.size(1);
    out.from_tensors.insert("num_heads");
    if (c.model_arch != "bert" &&
        !find_layout(attention, c.num_layers,
                     {Layout::kTop, Layout::kBottom, Layout::kMiddle, Layout::kMixed},
                     c.attention_layout))
      fail("{}: attention layers {} follow none of the layouts BOTTOM / MIDDLE / MIXED / TOP",
           params.file_of("encoder/embedder/word/embedding"), set_text(attention));
  }
  if (c.model_arch == "bert") c.num_attention_layers = c.num_layers;
  out.from_tensors.insert("attention_layers");
  out.notes.push_back(fmt::format(
      "{} layers; attention in layers {} ({} heads from "
      "attention_<l>/self/query/kernel), layout {}; mixing {}",
      c.num_layers, set_text(attention), c.num_heads, to_string(c.attention_layout), c.model_arch));

  c.num_moe_layers = static_cast<int64_t>(moe.size());
  c.moe_layout = Layout::kMiddle;
  if (!moe.empty()) {
    if (!find_layout(moe, c.num_layers,
                     {Layout::kMiddle, Layout::kTop, Layout::kBottom, Layout::kMixed},
                     c.moe_layout))
      fail("{}: MoE layers {} follow none of the layouts BOTTOM / MIDDLE / MIXED / TOP",
           params.file_of("encoder/embedder/word/embedding"), set_text(moe));
    const std::string l = std::to_string(*moe.begin());
    c.num_experts = tensor("encoder/router_weights_" + l + "/DenseGeneral_0/kernel", 2).size(1);
    const auto it = params.experts.find("encoder/expert_" + l + "/intermediate/kernel");
    if (it == params.experts.end() || it->second.empty())
      fail("{}: MoE layer {} has a router but no expert_{}/intermediate/kernel in the shards",
           params.file_of("encoder/router_weights_" + l + "/DenseGeneral_0/kernel"), l, l);
    c.expert_d_ff = it->second.front().size(-1);
    out.from_tensors.insert({"num_experts", "expert_d_ff"});
  }
  out.from_tensors.insert("moe_layers");
  if (!moe.empty())
    out.notes.push_back(
        fmt::format("MoE in layers {} (layout {}), {} experts (router kernel) of "
                    "d_ff {} (expert_<l>/intermediate/kernel)",
                    set_text(moe), to_string(c.moe_layout), c.num_experts, c.expert_d_ff));
  for (int64_t l = 0; l < c.num_layers; ++l)
    if (moe.count(l) == 0) {
      c.d_ff =
          tensor("encoder/feed_forward_" + std::to_string(l) + "/intermediate/kernel", 2).size(1);
      out.from_tensors.insert("d_ff");
      out.notes.push_back(
          fmt::format("d_ff {} from feed_forward_{}/intermediate/kernel", c.d_ff, l));
      break;
    }

  // Documented settings of the releases (README "Pre-trained models", configs/base.py).
  bool fast = false;
  for (std::string label : labels) {
    std::transform(label.begin(), label.end(), label.begin(),
                   [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
    fast |= label.find("fsm") != std::string::npos || label.find("fast") != std::string::npos;
  }
  c.train_capacity_factor = c.eval_capacity_factor = fast ? 0.5 : 1.0;
  c.dispatch_algorithm = "MASK_EXPERTS_CHOOSE";
  c.min_expert_capacity = 4;
  c.max_group_size = 4096;
  c.padding = Padding::kReference;
  if (!moe.empty())
    out.notes.push_back(fmt::format(
        "capacity factor {} in training and evaluation ({}), experts-choose routing, groups of "
        "4096 tokens, min capacity 4: the release's documented settings",
        c.train_capacity_factor,
        fast ? "a Fast Sparse Mixer: the release's name says fsm/fast"
             : "a Sparse Mixer: the release's name does not say fsm/fast; pass --config "
               "fast-sparse-mixer-base for 0.5"));
  out.notes.push_back(
      "padding reference, routing groups tokens:4096 (what the weights were trained "
      "with; see docs/importing.md for masked / sequence)");
  return out;
}

ModelConfig reconcile_config(const InferredConfig& inferred, const ModelConfig& given,
                             const std::string& given_name, const std::string& source) {
  const ModelConfig& c = inferred.config;
  std::vector<std::string> diffs;
  auto check = [&](const char* key, auto found, auto wanted) {
    if (inferred.from_tensors.count(key) && found != wanted)
      diffs.push_back(
          fmt::format("{} is {} in the checkpoint, {} in the config", key, found, wanted));
  };
  if (inferred.from_tensors.count("model_arch") && c.model_arch != given.model_arch &&
      !(c.model_arch == "bert" && given.is_bert()))
    diffs.push_back(fmt::format("model_arch is {} in the checkpoint, {} in the config",
                                c.model_arch, given.model_arch));
  check("vocab_size", c.vocab_size, given.vocab_size);
  check("type_vocab_size", c.type_vocab_size, given.type_vocab_size);
  check("max_seq_len", c.max_seq_len, given.max_seq_len);
  check("d_emb", c.d_emb, given.d_emb);
  check("d_model", c.d_model, given.d_model);
  check("num_layers", c.num_layers, given.num_layers);
  check("num_heads", c.num_heads, given.num_heads);
  check("d_ff", c.d_ff, given.d_ff);
  if (c.num_layers == given.num_layers) {
    std::set<int64_t> a1, a2, m1, m2;
    for (int64_t l = 0; l < c.num_layers; ++l) {
      if (c.is_attention_layer(l)) a1.insert(l);
      if (given.is_attention_layer(l)) a2.insert(l);
      if (c.is_moe_layer(l)) m1.insert(l);
      if (given.is_moe_layer(l)) m2.insert(l);
    }
    if (a1 != a2)
      diffs.push_back(fmt::format("attention layers are {} in the checkpoint, {} in the config",
                                  set_text(a1), set_text(a2)));
    if (m1 != m2)
      diffs.push_back(fmt::format("MoE layers are {} in the checkpoint, {} in the config",
                                  set_text(m1), set_text(m2)));
    if (!m1.empty()) {
      check("num_experts", c.num_experts, given.num_experts);
      check("expert_d_ff", c.expert_d_ff, given.expert_d_ff);
    }
  }
  if (!diffs.empty())
    fail("{}: the checkpoint does not fit --config {}: {}", source, given_name,
         fmt::join(diffs, "; "));
  ModelConfig out = given;
  if (c.model_arch == "bert") out.model_arch = given.model_arch;
  return out;
}

}  // namespace smx::importer
