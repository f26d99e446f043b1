#include "smx/import/hf_config.h"

#include <algorithm>
#include <map>

#include <fmt/format.h>

#include "smx/core/error.h"

namespace smx::importer::hf {
namespace {

using json = nlohmann::json;

// HF's class defaults (configuration_bert.py / configuration_fnet.py) for keys a config.json may
// leave out.
struct HfDefaults {
  int64_t vocab_size, hidden_size, num_hidden_layers, num_attention_heads, intermediate_size,
      max_position_embeddings, type_vocab_size, pad_token_id;
  const char* hidden_act;
};

constexpr HfDefaults kBertDefaults = {30522, 768, 12, 12, 3072, 512, 2, 0, "gelu"};
constexpr HfDefaults kFNetDefaults = {32000, 768, 12, 0, 3072, 512, 4, 3, "gelu_new"};

int64_t hf_int_key(const json& j, const char* key, int64_t fallback, const std::string& source) {
  if (!j.contains(key)) return fallback;
  const json& v = j[key];
  if (!v.is_number_integer())
    fail("{}: key '{}' is {}, expected an integer", source, key, v.dump().substr(0, 60));
  return v.get<int64_t>();
}

double hf_number_key(const json& j, const char* key, double fallback, const std::string& source) {
  if (!j.contains(key) || j[key].is_null()) return fallback;
  if (!j[key].is_number())
    fail("{}: key '{}' is {}, expected a number", source, key, j[key].dump().substr(0, 60));
  return j[key].get<double>();
}

std::string hf_string_key(const json& j, const char* key, const std::string& fallback,
                          const std::string& source) {
  if (!j.contains(key) || j[key].is_null()) return fallback;
  if (!j[key].is_string())
    fail("{}: key '{}' is {}, expected a string", source, key, j[key].dump().substr(0, 60));
  return j[key].get<std::string>();
}

bool hf_bool_key(const json& j, const char* key, const std::string& source) {
  if (!j.contains(key) || j[key].is_null()) return false;
  if (!j[key].is_boolean())
    fail("{}: key '{}' is {}, expected true or false", source, key, j[key].dump().substr(0, 60));
  return j[key].get<bool>();
}

// id2label {"0": "NEGATIVE", ...} in id order; empty without one.
std::vector<std::string> read_labels(const json& j, const std::string& source) {
  if (!j.contains("id2label")) return {};
  const json& map = j["id2label"];
  if (!map.is_object())
    fail("{}: key 'id2label' must be an object {{\"0\": \"label\", ...}}", source);
  std::vector<std::string> labels(map.size());
  for (const auto& [id, label] : map.items()) {
    char* end = nullptr;
    const long long index = std::strtoll(id.c_str(), &end, 10);
    if (id.empty() || *end != '\0' || index < 0 || index >= static_cast<long long>(map.size()) ||
        !labels[static_cast<size_t>(index)].empty() || !label.is_string() ||
        label.get<std::string>().empty())
      fail("{}: id2label must map the ids 0..{} once each to non-empty strings; entry \"{}\": {}",
           source, map.size() - 1, id, label.dump().substr(0, 60));
    labels[static_cast<size_t>(index)] = label.get<std::string>();
  }
  return labels;
}

}  // namespace

std::string smx_hidden_act(const std::string& act, const std::string& source) {
  if (act == "gelu") return "gelu_erf";
  // gelu_fast and gelu_pytorch_tanh are the same tanh formula as gelu_new.
  if (act == "gelu_new" || act == "gelu_pytorch_tanh" || act == "gelu_fast") return "gelu_tanh";
  fail(
      "{}: key 'hidden_act' is \"{}\"; smx runs \"gelu\" (exact) and \"gelu_new\" / "
      "\"gelu_pytorch_tanh\" / \"gelu_fast\" (tanh form) only",
      source, act);
}

std::string hf_hidden_act(const std::string& smx_act) {
  return smx_act == "gelu_erf" ? "gelu" : "gelu_new";
}

HfModelInfo parse_hf_config(const json& j, const std::string& source, int64_t max_seq_len) {
  if (!j.is_object()) fail("{}: a Hugging Face config.json must be a JSON object", source);
  HfModelInfo info;
  const std::string type = hf_string_key(j, "model_type", "", source);
  if (type.empty())
    fail("{}: no 'model_type'; smx imports model_type \"bert\" and \"fnet\"", source);
  if (!parse_model_type(type, info.family))
    fail("{}: model_type \"{}\" is not supported; smx imports \"bert\" and \"fnet\" models", source,
         type);
  const bool bert = info.family == Family::kBert;
  std::string names;
  for (const Architecture& a : architectures()) names += (names.empty() ? "" : ", ") + a.name;
  std::string name = bert ? "BertModel" : "FNetModel";
  if (j.contains("architectures")) {
    const json& a = j["architectures"];
    if (!a.is_array() || a.size() != 1 || !a[0].is_string())
      fail("{}: 'architectures' must list one architecture name; got {}", source,
           a.dump().substr(0, 80));
    name = a[0].get<std::string>();
  } else {
    info.notes.push_back("no 'architectures': read as " + name);
  }
  const Architecture* arch = find_architecture(name);
  if (!arch) fail("{}: architecture \"{}\" is not supported; smx imports {}", source, name, names);
  if (arch->family != info.family)
    fail("{}: architecture \"{}\" does not belong to model_type \"{}\"", source, name, type);
  info.architecture = *arch;

  const HfDefaults& d = bert ? kBertDefaults : kFNetDefaults;
  if (bert) {
    const std::string position = hf_string_key(j, "position_embedding_type", "absolute", source);
    if (position != "absolute")
      fail("{}: position_embedding_type \"{}\" is not supported; smx has absolute positions",
           source, position);
    if (hf_bool_key(j, "is_decoder", source) || hf_bool_key(j, "add_cross_attention", source))
      fail("{}: is_decoder / add_cross_attention: smx imports BERT encoders only", source);
  }
  ModelConfig& c = info.config;
  c.name = hf_string_key(j, "_name_or_path", "", source);
  if (c.name.empty()) c.name = type;
  c.model_arch = bert ? "bert" : "f_net";
  c.vocab_size = hf_int_key(j, "vocab_size", d.vocab_size, source);
  c.type_vocab_size = hf_int_key(j, "type_vocab_size", d.type_vocab_size, source);
  c.pad_id = hf_int_key(j, "pad_token_id", d.pad_token_id, source);
  c.d_model = c.d_emb = hf_int_key(j, "hidden_size", d.hidden_size, source);
  c.d_ff = hf_int_key(j, "intermediate_size", d.intermediate_size, source);
  c.num_layers = hf_int_key(j, "num_hidden_layers", d.num_hidden_layers, source);
  c.num_heads = bert ? hf_int_key(j, "num_attention_heads", d.num_attention_heads, source) : 1;
  c.num_attention_layers = 0;
  c.num_moe_layers = 0;
  c.embedding_projection = !bert;
  c.hidden_act = smx_hidden_act(hf_string_key(j, "hidden_act", d.hidden_act, source), source);
  c.layer_norm_eps = hf_number_key(j, "layer_norm_eps", 1e-12, source);
  c.dropout_rate = hf_number_key(j, "hidden_dropout_prob", 0.1, source);
  c.mixing_dropout_rate =
      bert ? hf_number_key(j, "attention_probs_dropout_prob", 0.1, source) : 0.0;
  const int64_t positions =
      hf_int_key(j, "max_position_embeddings", d.max_position_embeddings, source);
  c.max_position_embeddings = positions;
  int64_t seq = positions;
  if (!bert && hf_bool_key(j, "use_tpu_fourier_optimizations", source)) {
    // HF then runs DFT matrices of this length and requires inputs of exactly this length: the
    // same transform as the FFT at that length.
    seq = hf_int_key(j, "tpu_short_seq_length", 512, source);
    info.notes.push_back(fmt::format(
        "use_tpu_fourier_optimizations: inputs are {} tokens (tpu_short_seq_length)", seq));
  }
  if (max_seq_len > 0) seq = max_seq_len;
  c.max_seq_len = seq;
  if (bert) {
    // Pads never reach a real token through the attention mask: batches pad to their longest.
    c.padding = Padding::kMasked;
  } else {
    // HF FNet mixes whatever the batch holds, pads included, at the padded length; `reference`
    // padding pads every batch to max_seq_len, as FNet was trained and is meant to be run.
    c.padding = Padding::kReference;
    c.use_fft = true;
    info.notes.push_back(
        fmt::format("FNet: padding \"reference\" (every batch padded to {} tokens, as HF FNet with "
                    "padding=\"max_length\"); see docs/importing.md for \"masked\"",
                    c.max_seq_len));
  }
  c.tokenizer.clear();

  if (info.architecture.classifier) {
    info.labels = read_labels(j, source);
    const int64_t labels_count = static_cast<int64_t>(info.labels.size());
    info.num_labels = hf_int_key(j, "num_labels", labels_count > 0 ? labels_count : 2, source);
    if (labels_count > 0 && info.num_labels != labels_count)
      fail("{}: num_labels {} but id2label has {} entries", source, info.num_labels, labels_count);
    const std::string problem = hf_string_key(j, "problem_type", "", source);
    info.regression = problem == "regression" || (problem.empty() && info.num_labels == 1);
    if (info.regression && info.num_labels != 1)
      fail(
          "{}: problem_type \"regression\" with num_labels {}; smx regression heads have one "
          "output",
          source, info.num_labels);
    if (problem == "multi_label_classification")
      info.notes.push_back(
          "problem_type multi_label_classification: imported as single-label classification "
          "(smx classify reports the softmax over the labels)");
    if (info.regression) info.labels.clear();
    if (info.num_labels < 1 || info.num_labels > (int64_t{1} << 16))
      fail("{}: num_labels {} is outside [1, 65536]", source, info.num_labels);
  }
  try {
    c.validate();
  } catch (const Error& e) {
    fail("{}: the model it describes is not one smx can build: {}", source, e.what());
  }
  return info;
}

json hf_config_keys(const ModelConfig& c, Family family) {
  const bool bert = family == Family::kBert;
  const std::string what = fmt::format("config '{}'", c.name);
  if (bert != c.is_bert() || (!bert && c.model_arch != "f_net"))
    fail(
        "{}: model_arch '{}' has no Hugging Face {} equivalent (BERT needs \"bert\", FNet "
        "\"f_net\")",
        what, c.model_arch, model_type(family));
  if (c.num_moe_layers > 0)
    fail("{}: MoE layers have no Hugging Face {} equivalent", what, model_type(family));
  if (!bert && c.num_attention_layers > 0)
    fail("{}: attention layers have no place in Hugging Face FNet", what);
  if (c.embedding_projection == bert)
    fail("{}: Hugging Face {} {} an embedding projection (embedding_projection {})", what,
         model_type(family), bert ? "has no" : "needs", c.embedding_projection);
  if (c.d_emb != c.d_model) fail("{}: Hugging Face needs d_emb = d_model", what);
  json j = {{"model_type", model_type(family)},
            {"vocab_size", c.vocab_size},
            {"hidden_size", c.d_model},
            {"num_hidden_layers", c.num_layers},
            {"intermediate_size", c.d_ff},
            {"hidden_act", hf_hidden_act(c.hidden_act)},
            {"hidden_dropout_prob", c.dropout_rate},
            {"max_position_embeddings", c.position_table_size()},
            {"type_vocab_size", c.type_vocab_size},
            {"layer_norm_eps", c.layer_norm_eps},
            {"pad_token_id", c.pad_id},
            {"initializer_range", 0.02}};
  if (bert) {
    j["num_attention_heads"] = c.num_heads;
    j["attention_probs_dropout_prob"] = c.mixing_dropout_rate;
    j["position_embedding_type"] = "absolute";
  } else {
    j["use_tpu_fourier_optimizations"] = false;
    j["tpu_short_seq_length"] = c.max_seq_len;
  }
  return j;
}

}  // namespace smx::importer::hf
