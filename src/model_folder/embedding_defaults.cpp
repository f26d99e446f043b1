#include "smx/model_folder/embedding_defaults.h"

#include <filesystem>

#include "smx/core/error.h"
#include "smx/core/json.h"
#include "smx/io/text_file.h"

namespace smx::model_folder {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

constexpr const char* kEmbeddingPoolings[] = {"cls", "cls_token", "mean", "max", "last"};

// sentence-transformers module types smx reproduces (modules.json "type").
constexpr const char* kStTransformer = "sentence_transformers.models.Transformer";
constexpr const char* kStPooling = "sentence_transformers.models.Pooling";
constexpr const char* kStNormalize = "sentence_transformers.models.Normalize";

json read_st_json(const std::string& file) {
  return parse_json(io::read_text_file(file), file);
}

}  // namespace

bool is_embedding_pooling(const std::string& name) {
  for (const char* p : kEmbeddingPoolings)
    if (name == p) return true;
  return false;
}

EmbeddingDefaults parse_embedding_defaults(const json& j, const std::string& source) {
  if (!j.is_object()) fail("{}: not a JSON object", source);
  EmbeddingDefaults d;
  for (const auto& [key, value] : j.items()) {
    if (key == "pooling") {
      if (!value.is_string() || !is_embedding_pooling(value.get<std::string>()))
        fail("{}: \"pooling\" is {}; use \"cls\", \"cls_token\", \"mean\", \"max\" or \"last\"",
             source, value.dump());
      d.pooling = value.get<std::string>();
    } else if (key == "normalize") {
      if (!value.is_boolean()) fail("{}: \"normalize\" must be true or false", source);
      d.normalize = value.get<bool>();
    } else if (key == "source") {
      if (!value.is_string()) fail("{}: \"source\" must be a string", source);
      d.source = value.get<std::string>();
    } else {
      fail("{}: unknown key \"{}\" (expected pooling, normalize, source)", source, key);
    }
  }
  return d;
}

json to_json(const EmbeddingDefaults& d) {
  json j = {{"pooling", d.pooling}, {"normalize", d.normalize}};
  if (!d.source.empty()) j["source"] = d.source;
  return j;
}

std::string sentence_transformers_pooling(const json& j, const std::string& source) {
  if (!j.is_object()) fail("{}: not a JSON object", source);
  const auto on = [&](const char* key) {
    if (!j.contains(key) || j[key].is_null()) return false;
    if (!j[key].is_boolean()) fail("{}: \"{}\" must be true or false", source, key);
    return j[key].get<bool>();
  };
  for (const char* key : {"pooling_mode_mean_sqrt_len_tokens", "pooling_mode_weightedmean_tokens"})
    if (on(key))
      fail(
          "{}: {} is not a pooling smx computes; smx has cls_token, mean, max and last "
          "(pooling_mode_cls_token, pooling_mode_mean_tokens, pooling_mode_max_tokens, "
          "pooling_mode_lasttoken)",
          source, key);
  const std::pair<const char*, const char*> modes[] = {{"pooling_mode_cls_token", "cls_token"},
                                                       {"pooling_mode_mean_tokens", "mean"},
                                                       {"pooling_mode_max_tokens", "max"},
                                                       {"pooling_mode_lasttoken", "last"}};
  std::string chosen;
  int count = 0;
  for (const auto& [key, name] : modes)
    if (on(key)) {
      chosen = name;
      ++count;
    }
  if (count != 1)
    fail(
        "{}: set exactly one of pooling_mode_cls_token, pooling_mode_mean_tokens, "
        "pooling_mode_max_tokens, pooling_mode_lasttoken to true (several modes concatenate "
        "vectors, which smx does not)",
        source);
  return chosen;
}

std::optional<EmbeddingDefaults> read_sentence_transformers_modules(const std::string& dir) {
  const fs::path root(dir);
  const std::string modules_file = (root / "modules.json").string();
  std::error_code ec;
  EmbeddingDefaults d;
  if (!fs::is_regular_file(modules_file, ec)) {
    // Older folders: a bare 1_Pooling/config.json.
    const std::string pooling = (root / "1_Pooling" / "config.json").string();
    if (!fs::is_regular_file(pooling, ec)) return std::nullopt;
    d.pooling = sentence_transformers_pooling(read_st_json(pooling), pooling);
    d.source = "sentence-transformers 1_Pooling/config.json";
    return d;
  }
  const json modules = read_st_json(modules_file);
  if (!modules.is_array() || modules.empty())
    fail("{}: expected a non-empty list of modules ({{\"idx\", \"name\", \"path\", \"type\"}})",
         modules_file);
  bool pooled = false;
  for (size_t i = 0; i < modules.size(); ++i) {
    const json& m = modules[i];
    if (!m.is_object() || !m.contains("type") || !m["type"].is_string())
      fail("{}: module {} has no string \"type\"", modules_file, i);
    const std::string type = m["type"].get<std::string>();
    const std::string path =
        m.contains("path") && m["path"].is_string() ? m["path"].get<std::string>() : std::string();
    if (type == kStTransformer) {
      if (i != 0)
        fail("{}: the Transformer module is module {}; smx reads it only as the first",
             modules_file, i);
    } else if (type == kStPooling) {
      if (pooled) fail("{}: more than one Pooling module", modules_file);
      const std::string config = (root / path / "config.json").string();
      if (!fs::is_regular_file(config, ec))
        fail("{}: module {} (Pooling) names '{}', which has no config.json", modules_file, i, path);
      d.pooling = sentence_transformers_pooling(read_st_json(config), config);
      pooled = true;
    } else if (type == kStNormalize) {
      if (!pooled)
        fail("{}: Normalize (module {}) comes before any Pooling module", modules_file, i);
      d.normalize = true;
    } else {
      fail(
          "{}: module {} has type '{}', which smx cannot run (it runs Transformer, Pooling and "
          "Normalize); embeddings without it would differ from sentence-transformers'. Import "
          "the Transformer folder without modules.json to use the encoder alone",
          modules_file, i, type);
    }
  }
  if (!pooled) fail("{}: no Pooling module; smx needs one to know how to pool", modules_file);
  d.source = "sentence-transformers modules.json";
  return d;
}

}  // namespace smx::model_folder
