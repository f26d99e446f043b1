#include "smx/config/model_config.h"

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>

#include <nlohmann/json.hpp>

#include "smx/core/error.h"
#include "smx/core/json.h"
#include "smx/io/text_file.h"

namespace smx {
namespace {

using json = nlohmann::json;

template <typename T>
T get_as(const json& value) {
  try {
    if constexpr (std::is_same_v<T, bool>) {
      if (!value.is_boolean()) throw std::runtime_error("not a boolean");
    } else if constexpr (std::is_integral_v<T>) {
      if (!value.is_number_integer()) throw std::runtime_error("not an integer");
    } else if constexpr (std::is_floating_point_v<T>) {
      if (!value.is_number()) throw std::runtime_error("not a number");
    } else {
      if (!value.is_string()) throw std::runtime_error("not a string");
    }
    return value.get<T>();
  } catch (const std::exception& e) {
    std::string shown = value.dump();  // bounded: inputs come through parse_json
    if (shown.size() > 80) shown = shown.substr(0, 77) + "...";
    fail("value {} is {}", shown, e.what());
  }
}

// One entry per JSON key: how to read it into the config and how to write it back.
struct Field {
  std::function<void(ModelConfig&, const json&)> read;
  std::function<json(const ModelConfig&)> write;
};

template <typename T>
Field plain(T ModelConfig::*member) {
  return {[member](ModelConfig& c, const json& v) { c.*member = get_as<T>(v); },
          [member](const ModelConfig& c) { return json(c.*member); }};
}

template <typename E>
Field enumerated(E ModelConfig::*member, E (*parse)(const std::string&), std::string (*print)(E)) {
  return {
      [member, parse](ModelConfig& c, const json& v) { c.*member = parse(get_as<std::string>(v)); },
      [member, print](const ModelConfig& c) { return json(print(c.*member)); }};
}

const std::map<std::string, Field>& fields() {
  static const std::map<std::string, Field> table = {
      {"name", plain(&ModelConfig::name)},
      {"model_arch", plain(&ModelConfig::model_arch)},
      {"vocab_size", plain(&ModelConfig::vocab_size)},
      {"type_vocab_size", plain(&ModelConfig::type_vocab_size)},
      {"max_seq_len", plain(&ModelConfig::max_seq_len)},
      {"pad_id", plain(&ModelConfig::pad_id)},
      {"max_position_embeddings", plain(&ModelConfig::max_position_embeddings)},
      {"embedding_projection", plain(&ModelConfig::embedding_projection)},
      {"hidden_act",
       {[](ModelConfig& c, const json& v) {
          c.hidden_act = get_as<std::string>(v);
          if (c.hidden_act != "gelu_tanh" && c.hidden_act != "gelu_erf")
            fail("'{}' is unknown; use \"gelu_tanh\" (tanh approximation) or \"gelu_erf\" (exact)",
                 c.hidden_act);
        },
        [](const ModelConfig& c) { return json(c.hidden_act); }}},
      {"layer_norm_eps", plain(&ModelConfig::layer_norm_eps)},
      {"d_emb", plain(&ModelConfig::d_emb)},
      {"d_model", plain(&ModelConfig::d_model)},
      {"d_ff", plain(&ModelConfig::d_ff)},
      {"num_heads", plain(&ModelConfig::num_heads)},
      {"num_layers", plain(&ModelConfig::num_layers)},
      {"num_attention_layers", plain(&ModelConfig::num_attention_layers)},
      {"attention_layout", enumerated(&ModelConfig::attention_layout, &parse_layout, &to_string)},
      {"num_moe_layers", plain(&ModelConfig::num_moe_layers)},
      {"moe_layout", enumerated(&ModelConfig::moe_layout, &parse_layout, &to_string)},
      {"num_experts", plain(&ModelConfig::num_experts)},
      {"expert_d_ff", plain(&ModelConfig::expert_d_ff)},
      {"dispatch_algorithm",
       {[](ModelConfig& c, const json& v) {
          c.dispatch_algorithm = get_as<std::string>(v);
          c.router();  // an unknown name fails here, naming the file and key
        },
        [](const ModelConfig& c) { return json(c.dispatch_algorithm); }}},
      {"num_selected_experts", plain(&ModelConfig::num_selected_experts)},
      {"batch_prioritized_routing", plain(&ModelConfig::batch_prioritized_routing)},
      {"train_capacity_factor", plain(&ModelConfig::train_capacity_factor)},
      {"eval_capacity_factor", plain(&ModelConfig::eval_capacity_factor)},
      {"min_expert_capacity", plain(&ModelConfig::min_expert_capacity)},
      {"eval_min_expert_capacity", plain(&ModelConfig::eval_min_expert_capacity)},
      {"routing_groups",
       {[](ModelConfig& c, const json& v) {
          const auto text = get_as<std::string>(v);
          if (text == "sequence") {
            c.max_group_size = 0;
            return;
          }
          char* end = nullptr;
          const long long n =
              text.rfind("tokens:", 0) == 0 ? std::strtoll(text.c_str() + 7, &end, 10) : 0;
          if (n < 1 || end == nullptr || *end != '\0')
            fail(
                "'{}' is not \"sequence\" or \"tokens:N\" with N >= 1 (the reference is "
                "\"tokens:4096\")",
                text);
          c.max_group_size = n;
        },
        [](const ModelConfig& c) { return json(c.routing_groups()); }}},
      {"jitter_noise", plain(&ModelConfig::jitter_noise)},
      {"auxiliary_loss_factor", plain(&ModelConfig::auxiliary_loss_factor)},
      {"router_z_loss_factor", plain(&ModelConfig::router_z_loss_factor)},
      {"use_fft", plain(&ModelConfig::use_fft)},
      {"dropout_rate", plain(&ModelConfig::dropout_rate)},
      {"mixing_dropout_rate", plain(&ModelConfig::mixing_dropout_rate)},
      {"expert_dropout_rate", plain(&ModelConfig::expert_dropout_rate)},
      {"padding", enumerated(&ModelConfig::padding, &parse_padding, &to_string)},
      {"pad_to_multiple", plain(&ModelConfig::pad_to_multiple)},
      {"tokenizer", plain(&ModelConfig::tokenizer)},
  };
  return table;
}

std::string known_keys() {
  std::string keys;
  for (const auto& [key, field] : fields()) keys += (keys.empty() ? "" : ", ") + key;
  return keys;
}

json read_json_file(const std::string& path) {
  return parse_json(io::read_text_file(path), "config file " + path);
}

}  // namespace

bool is_replacement(int64_t layer, int64_t num_layers, int64_t n, Layout layout) {
  switch (layout) {
    case Layout::kBottom:
      return layer < n;
    case Layout::kMiddle:
      return num_layers - n <= 2 * layer && 2 * layer < num_layers + n;
    case Layout::kMixed:
      return n > 0 && layer % (num_layers / n) == 0;
    case Layout::kTop:
      return layer >= num_layers - n;
  }
  return false;
}

const MixingKindInfo& ModelConfig::mixing() const {
  const MixingKindInfo* kind = find_mixing_kind(model_arch);
  if (kind == nullptr)
    fail("model_arch '{}' is unknown; use one of {}", model_arch, mixing_arch_names());
  return *kind;
}

const MixingKindInfo& ModelConfig::mixing_at(int64_t layer) const {
  return is_attention_layer(layer) ? attention_mixing() : mixing();
}

const RouterInfo& ModelConfig::router() const {
  const RouterInfo* router = find_router(dispatch_algorithm);
  if (router == nullptr)
    fail("dispatch_algorithm '{}' is unknown; use one of {}", dispatch_algorithm, router_names());
  return *router;
}

std::string ModelConfig::routing_groups() const {
  return sequence_groups() ? "sequence" : "tokens:" + std::to_string(max_group_size);
}

int64_t ModelConfig::padded_length(int64_t longest) const {
  if (padding == Padding::kReference) return max_seq_len;
  const int64_t multiple = pad_to_multiple > 0 ? pad_to_multiple : 8;
  return std::min(max_seq_len, (longest + multiple - 1) / multiple * multiple);
}

bool ModelConfig::is_attention_layer(int64_t layer) const {
  return is_bert() || is_replacement(layer, num_layers, num_attention_layers, attention_layout);
}

bool ModelConfig::is_moe_layer(int64_t layer) const {
  return is_replacement(layer, num_layers, num_moe_layers, moe_layout);
}

void ModelConfig::validate() const {
  const std::string where = "config '" + name + "'";
  mixing();  // throws on an unknown arch
  router();  // throws on an unknown dispatch_algorithm
  // Upper bounds far above any real encoder keep every parameter and FLOP count of accounting/
  // inside int64 (a hostile config cannot make `smx info` print negative sizes) and stop a typo
  // from allocating terabytes.
  auto in_range = [&](const char* key, int64_t value, int64_t max) {
    if (value < 1 || value > max)
      fail("{}: {} is {}; it must be between 1 and {}", where, key, value, max);
  };
  auto positive = [&](const char* key, int64_t value) { in_range(key, value, int64_t{1} << 16); };
  in_range("vocab_size", vocab_size, int64_t{1} << 24);
  positive("type_vocab_size", type_vocab_size);
  in_range("max_seq_len", max_seq_len, int64_t{1} << 20);
  positive("d_emb", d_emb);
  positive("d_model", d_model);
  in_range("d_ff", d_ff, int64_t{1} << 18);
  positive("num_heads", num_heads);
  in_range("num_layers", num_layers, 1024);
  if (max_position_embeddings != 0 &&
      (max_position_embeddings < max_seq_len || max_position_embeddings > (int64_t{1} << 20)))
    fail(
        "{}: max_position_embeddings is {}; it must be 0 (= max_seq_len) or between max_seq_len = "
        "{} and 2^20",
        where, max_position_embeddings, max_seq_len);
  if (!embedding_projection && d_emb != d_model)
    fail(
        "{}: embedding_projection false needs d_emb = d_model (the embeddings feed the first "
        "layer directly); got d_emb {}, d_model {}",
        where, d_emb, d_model);
  if (hidden_act != "gelu_tanh" && hidden_act != "gelu_erf")
    fail("{}: hidden_act '{}' is unknown; use \"gelu_tanh\" or \"gelu_erf\"", where, hidden_act);
  if (!(layer_norm_eps > 0.0 && layer_norm_eps < 1.0))
    fail("{}: layer_norm_eps is {}; it must be in (0, 1)", where, layer_norm_eps);
  if (pad_id < 0 || pad_id >= vocab_size)
    fail("{}: pad_id {} is outside the vocabulary [0, {})", where, pad_id, vocab_size);
  auto count = [&](const char* key, int64_t value) {
    if (value < 0 || value > num_layers)
      fail("{}: {} is {}; it must be between 0 and num_layers = {}", where, key, value, num_layers);
  };
  count("num_attention_layers", num_attention_layers);
  count("num_moe_layers", num_moe_layers);
  const bool has_attention = is_bert() || num_attention_layers > 0;
  if (has_attention && d_model % num_heads != 0)
    fail("{}: d_model {} is not divisible by num_heads {}", where, d_model, num_heads);
  if (num_moe_layers > 0) {
    in_range("num_experts", num_experts, int64_t{1} << 14);
    in_range("expert_d_ff", expert_d_ff, int64_t{1} << 18);
    if (!(train_capacity_factor > 0) || !(eval_capacity_factor > 0))
      fail("{}: capacity factors must be > 0 (train {}, eval {})", where, train_capacity_factor,
           eval_capacity_factor);
    if (min_expert_capacity < 0)
      fail("{}: min_expert_capacity is {}; it must be >= 0", where, min_expert_capacity);
    if (tokens_choose() && (num_selected_experts < 1 || num_selected_experts > num_experts))
      fail("{}: num_selected_experts is {}; it must be between 1 and num_experts = {}", where,
           num_selected_experts, num_experts);
    if (!tokens_choose() && num_selected_experts != 1)
      fail(
          "{}: num_selected_experts = {} only applies to tokens-choose routing; "
          "experts-choose picks tokens per expert",
          where, num_selected_experts);
  }
  if (max_group_size < 0 || max_group_size > (int64_t{1} << 32))
    fail(
        "{}: max_group_size is {}; use routing_groups \"sequence\" or \"tokens:N\" with N <= "
        "2^32",
        where, max_group_size);
  if (min_expert_capacity > (int64_t{1} << 32))
    fail("{}: min_expert_capacity is {}; it must be <= 2^32", where, min_expert_capacity);
  if (eval_min_expert_capacity < -1 || eval_min_expert_capacity > (int64_t{1} << 32))
    fail("{}: eval_min_expert_capacity is {}; use -1 (= min_expert_capacity) or 0 to 2^32", where,
         eval_min_expert_capacity);
  auto rate = [&](const char* key, double value) {
    if (!(value >= 0.0 && value < 1.0))
      fail("{}: {} is {}; a rate must be in [0, 1)", where, key, value);
  };
  rate("dropout_rate", dropout_rate);
  rate("mixing_dropout_rate", mixing_dropout_rate);
  rate("expert_dropout_rate", expert_dropout_rate);
  if (jitter_noise < 0 || jitter_noise >= 1)
    fail("{}: jitter_noise is {}; it must be in [0, 1)", where, jitter_noise);
  if (auxiliary_loss_factor < 0 || router_z_loss_factor < 0)
    fail("{}: loss factors must be >= 0", where);
  if (pad_to_multiple < 0)
    fail("{}: pad_to_multiple is {}; it must be >= 0", where, pad_to_multiple);
  if (padding == Padding::kReference && pad_to_multiple != 0)
    fail(
        "{}: pad_to_multiple = {} only applies to padding \"masked\"; \"reference\" padding "
        "always pads to max_seq_len = {}",
        where, pad_to_multiple, max_seq_len);
  if (use_fft && !mixing().fft) {
    std::string with_fft;
    for (const MixingKindInfo& kind : mixing_kinds())
      if (kind.fft) with_fft += (with_fft.empty() ? "" : ", ") + kind.arch;
    fail("{}: use_fft applies to {}, not '{}'", where, with_fft, model_arch);
  }
}

json ModelConfig::to_json() const {
  json j = json::object();
  for (const auto& [key, field] : fields()) j[key] = field.write(*this);
  return j;
}

ModelConfig ModelConfig::from_json(const json& j, const std::string& source) {
  if (!j.is_object()) fail("{}: a model config must be a JSON object", source);
  ModelConfig config;
  for (const auto& [key, value] : j.items()) {
    const auto it = fields().find(key);
    if (it == fields().end())
      fail("{}: unknown key '{}' (known keys: {})", source, key, known_keys());
    try {
      it->second.read(config, value);
    } catch (const Error& e) {
      fail("{}: key '{}': {}", source, key, e.what());
    }
  }
  config.validate();
  return config;
}

std::string to_string(Layout layout) {
  switch (layout) {
    case Layout::kBottom:
      return "BOTTOM";
    case Layout::kMiddle:
      return "MIDDLE";
    case Layout::kMixed:
      return "MIXED";
    case Layout::kTop:
      return "TOP";
  }
  return "?";
}

std::string to_string(Padding padding) {
  return padding == Padding::kReference ? "reference" : "masked";
}

Layout parse_layout(const std::string& text) {
  for (Layout l : {Layout::kBottom, Layout::kMiddle, Layout::kMixed, Layout::kTop})
    if (text == to_string(l)) return l;
  fail("layout '{}' is unknown; use BOTTOM, MIDDLE, MIXED or TOP", text);
}

Padding parse_padding(const std::string& text) {
  if (text == "reference") return Padding::kReference;
  if (text == "masked") return Padding::kMasked;
  fail("padding '{}' is unknown; use \"reference\" or \"masked\"", text);
}

std::string config_directory() {
  if (const char* dir = std::getenv("SMX_CONFIG_DIR")) return dir;
#ifdef SMX_DEFAULT_CONFIG_DIR
  return SMX_DEFAULT_CONFIG_DIR;
#else
  return "configs";
#endif
}

std::vector<std::string> preset_names() {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(config_directory(), ec))
    if (entry.path().extension() == ".json") names.push_back(entry.path().stem().string());
  std::sort(names.begin(), names.end());
  return names;
}

ModelConfig load_model_config(const std::string& name_or_path,
                              const std::vector<std::string>& overrides) {
  std::string path = name_or_path;
  if (!std::filesystem::exists(path)) {
    path = config_directory() + "/" + name_or_path + ".json";
    if (!std::filesystem::exists(path)) {
      std::string names;
      for (const auto& n : preset_names()) names += (names.empty() ? "" : ", ") + n;
      fail("config '{}' is neither a file nor a preset in {} (presets: {})", name_or_path,
           config_directory(), names);
    }
  }
  json j = read_json_file(path);
  if (!j.is_object()) fail("{}: a model config must be a JSON object", path);
  for (const auto& override_text : overrides) {
    const auto eq = override_text.find('=');
    if (eq == std::string::npos || eq == 0)
      fail("--set '{}' is not key=value (for example --set num_layers=4)", override_text);
    const std::string key = override_text.substr(0, eq);
    const std::string value = override_text.substr(eq + 1);
    // A value that is not JSON is taken as a string (--set tokenizer=tok.model).
    j[key] = json_is_valid(value) ? parse_json(value, "--set " + key) : json(value);
  }
  return ModelConfig::from_json(j, path);
}

}  // namespace smx
