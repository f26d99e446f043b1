#include "smx/serve/api_requests.h"

#include <exception>
#include <new>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "smx/core/error.h"
#include "smx/core/json.h"
#include "smx/core/utf8.h"

namespace smx::serve {
namespace {

using json = nlohmann::json;

[[noreturn]] void reject(int status, std::string message, std::string param = "",
                         std::string code = "") {
  throw ApiError{status, std::move(message), std::move(param), std::move(code)};
}

json parse_object(std::string_view body, const Limits& limits) {
  int status = 0;
  std::string why;
  auto j = parse_body_object(body, limits, &status, &why);
  if (!j) reject(status, std::move(why));
  return std::move(*j);
}

std::string read_text(const json& value, const std::string& where, const Limits& limits) {
  if (!value.is_string())
    reject(400, fmt::format("{} must be a string, got {}", where, value.type_name()), where);
  const auto& text = value.get_ref<const std::string&>();
  if (text.empty()) reject(400, fmt::format("{} is an empty string", where), where);
  if (text.size() > limits.max_text_bytes)
    reject(
        413,
        fmt::format("{} has {} bytes; the limit is {}", where, text.size(), limits.max_text_bytes),
        where);
  if (const auto bad = find_invalid_utf8(text))
    reject(400, fmt::format("{} is not valid UTF-8 (byte {})", where, *bad), where);
  return text;
}

bool is_id(const json& v) {
  return v.is_number_unsigned() || (v.is_number_integer() && v.get<int64_t>() >= 0);
}

std::vector<int64_t> read_ids(const json& value, const std::string& where, const Limits& limits) {
  if (!value.is_array())
    reject(400, fmt::format("{} must be a list of token ids, got {}", where, value.type_name()),
           where);
  if (value.empty()) reject(400, fmt::format("{} is an empty list of token ids", where), where);
  if (value.size() > limits.max_text_bytes)
    reject(413,
           fmt::format("{} has {} token ids; the limit is {}", where, value.size(),
                       limits.max_text_bytes),
           where);
  std::vector<int64_t> ids;
  ids.reserve(value.size());
  for (size_t i = 0; i < value.size(); ++i) {
    const json& v = value[i];
    if (!is_id(v) || v.get<uint64_t>() > 0x7fffffffULL)
      reject(400,
             fmt::format("{}[{}] must be a token id (an integer from 0), got {}", where, i,
                         v.is_number() ? v.dump() : std::string(v.type_name())),
             where);
    ids.push_back(v.get<int64_t>());
  }
  return ids;
}

void check_count(size_t count, const std::string& where, const Limits& limits) {
  if (count == 0) reject(400, fmt::format("'{}' is an empty list", where), where);
  if (count > limits.max_inputs)
    reject(413,
           fmt::format("'{}' has {} entries; the limit is {} per request", where, count,
                       limits.max_inputs),
           where);
}

// A JSON list of texts (`where` names it in errors), within the input count limit.
std::vector<std::string> read_text_list(const json& value, const std::string& where,
                                        const Limits& limits) {
  if (!value.is_array())
    reject(422, fmt::format("'{}' must be a list of strings, got {}", where, value.type_name()),
           where);
  check_count(value.size(), where, limits);
  std::vector<std::string> texts;
  for (size_t i = 0; i < value.size(); ++i)
    texts.push_back(read_text(value[i], fmt::format("{}[{}]", where, i), limits));
  return texts;
}

// "t" | ["t", ...] | [id, ...] | [[id, ...] | "t", ...]: OpenAI's `input`, TEI's `inputs`.
std::vector<ModelInput> read_embedding_inputs(const json& value, const std::string& key,
                                              const Limits& limits) {
  std::vector<ModelInput> inputs;
  if (value.is_string()) {
    inputs.push_back({read_text(value, key, limits), std::nullopt, std::nullopt});
    return inputs;
  }
  if (!value.is_array())
    reject(400,
           fmt::format("'{}' must be a string, a list of strings, a list of token ids or a list "
                       "of such lists, got {}",
                       key, value.type_name()),
           key);
  if (!value.empty() && value[0].is_number()) {  // one input given as token ids
    inputs.push_back({"", std::nullopt, read_ids(value, key, limits)});
    return inputs;
  }
  check_count(value.size(), key, limits);
  for (size_t i = 0; i < value.size(); ++i) {
    const std::string where = fmt::format("{}[{}]", key, i);
    if (value[i].is_array())
      inputs.push_back({"", std::nullopt, read_ids(value[i], where, limits)});
    else if (value[i].is_string())
      inputs.push_back({read_text(value[i], where, limits), std::nullopt, std::nullopt});
    else
      reject(400,
             fmt::format("{} must be a string or a list of token ids, got {}", where,
                         value[i].type_name()),
             key);
  }
  return inputs;
}

bool read_bool(const json& j, const char* key, bool fallback) {
  if (!j.contains(key) || j[key].is_null()) return fallback;
  if (!j[key].is_boolean())
    reject(400, fmt::format("'{}' must be true or false, got {}", key, j[key].type_name()), key);
  return j[key].get<bool>();
}

std::optional<int64_t> read_dimensions(const json& j) {
  if (!j.contains("dimensions") || j["dimensions"].is_null()) return std::nullopt;
  const json& v = j["dimensions"];
  if (!v.is_number_integer() || v.get<int64_t>() < 1)
    reject(400, fmt::format("'dimensions' must be a positive integer, got {}", v.dump()),
           "dimensions");
  return v.get<int64_t>();
}

TeiTruncation read_truncation(const json& j) {
  TeiTruncation t;
  if (j.contains("truncate") && !j["truncate"].is_null())
    t.truncate = read_bool(j, "truncate", false);
  if (j.contains("truncation_direction") && !j["truncation_direction"].is_null()) {
    const json& v = j["truncation_direction"];
    const std::string s = v.is_string() ? v.get<std::string>() : "";
    if (s == "left" || s == "Left")
      t.left = true;
    else if (s != "right" && s != "Right")
      reject(422, "'truncation_direction' must be \"left\" or \"right\"", "truncation_direction");
  }
  return t;
}

void refuse_prompt_name(const json& j) {
  if (j.contains("prompt_name") && !j["prompt_name"].is_null())
    reject(422,
           "'prompt_name' is not supported: smx models define no prompts; prepend the "
           "prompt to the text instead",
           "prompt_name");
}

const json& require(const json& j, const char* key) {
  if (!j.contains(key)) reject(400, fmt::format("missing '{}'", key), key);
  return j[key];
}

// Runs a parser, turning anything but ApiError into a 4xx.
template <typename F>
auto guarded(F parse) -> decltype(parse()) {
  try {
    return parse();
  } catch (const ApiError&) {
    throw;
  } catch (const std::bad_alloc&) {
    reject(413, "request too large to parse");
  } catch (const std::exception& e) {
    reject(400, fmt::format("cannot parse the request: {}", e.what()));
  }
}

}  // namespace

OpenAIEmbeddingsRequest parse_openai_embeddings(std::string_view body, const Limits& limits) {
  return guarded([&] {
    const json j = parse_object(body, limits);
    OpenAIEmbeddingsRequest r;
    r.inputs = read_embedding_inputs(require(j, "input"), "input", limits);
    if (j.contains("model") && !j["model"].is_null()) {
      if (!j["model"].is_string())
        reject(400, fmt::format("'model' must be a string, got {}", j["model"].type_name()),
               "model");
      r.model = j["model"].get<std::string>();
    }
    if (j.contains("encoding_format") && !j["encoding_format"].is_null()) {
      const json& v = j["encoding_format"];
      const std::string s = v.is_string() ? v.get<std::string>() : "";
      if (s == "base64")
        r.base64 = true;
      else if (s != "float")
        reject(400, "'encoding_format' must be \"float\" or \"base64\"", "encoding_format");
    }
    r.dimensions = read_dimensions(j);
    if (j.contains("user") && !j["user"].is_null() && !j["user"].is_string())
      reject(400, "'user' must be a string", "user");
    return r;
  });
}

TeiEmbedRequest parse_tei_embed(std::string_view body, const Limits& limits, bool embed_all) {
  return guarded([&] {
    const json j = parse_object(body, limits);
    TeiEmbedRequest r;
    r.inputs = read_embedding_inputs(require(j, "inputs"), "inputs", limits);
    r.truncation = read_truncation(j);
    refuse_prompt_name(j);
    if (!embed_all) {
      r.normalize = read_bool(j, "normalize", true);
      r.dimensions = read_dimensions(j);
    }
    return r;
  });
}

TeiPredictRequest parse_tei_predict(std::string_view body, const Limits& limits) {
  return guarded([&] {
    const json j = parse_object(body, limits);
    TeiPredictRequest r;
    const json& v = require(j, "inputs");
    // A sequence: ["a"] or ["a", "b"].
    const auto sequence = [&](const json& s, const std::string& where) {
      if (!s.is_array() || s.empty() || s.size() > 2)
        reject(422,
               fmt::format("{} must be a text or a pair of texts [\"a\", \"b\"]; a batch is "
                           "[[\"a\"], [\"a\", \"b\"], ...]",
                           where),
               "inputs");
      ModelInput in;
      in.text = read_text(s[0], where + "[0]", limits);
      if (s.size() == 2) in.text_pair = read_text(s[1], where + "[1]", limits);
      return in;
    };
    if (v.is_string()) {
      r.inputs.push_back({read_text(v, "inputs", limits), std::nullopt, std::nullopt});
    } else if (v.is_array() && !v.empty() && v[0].is_string()) {
      r.inputs.push_back(sequence(v, "inputs"));
    } else if (v.is_array()) {
      check_count(v.size(), "inputs", limits);
      r.batched = true;
      for (size_t i = 0; i < v.size(); ++i)
        r.inputs.push_back(sequence(v[i], fmt::format("inputs[{}]", i)));
    } else {
      reject(
          422,
          fmt::format("'inputs' must be a text, a pair of texts or a batch, got {}", v.type_name()),
          "inputs");
    }
    r.truncation = read_truncation(j);
    refuse_prompt_name(j);
    r.raw_scores = read_bool(j, "raw_scores", false);
    return r;
  });
}

TeiRerankRequest parse_tei_rerank(std::string_view body, const Limits& limits) {
  return guarded([&] {
    const json j = parse_object(body, limits);
    TeiRerankRequest r;
    r.query = read_text(require(j, "query"), "query", limits);
    r.texts = read_text_list(require(j, "texts"), "texts", limits);
    r.truncation = read_truncation(j);
    r.raw_scores = read_bool(j, "raw_scores", false);
    r.return_text = read_bool(j, "return_text", false);
    return r;
  });
}

TeiTokenizeRequest parse_tei_tokenize(std::string_view body, const Limits& limits) {
  return guarded([&] {
    const json j = parse_object(body, limits);
    TeiTokenizeRequest r;
    const json& v = require(j, "inputs");
    if (v.is_string()) {
      r.inputs.push_back(read_text(v, "inputs", limits));
    } else if (v.is_array()) {
      r.inputs = read_text_list(v, "inputs", limits);
    } else {
      reject(422,
             fmt::format("'inputs' must be a string or a list of strings, got {}", v.type_name()),
             "inputs");
    }
    refuse_prompt_name(j);
    r.add_special_tokens = read_bool(j, "add_special_tokens", true);
    return r;
  });
}

TeiDecodeRequest parse_tei_decode(std::string_view body, const Limits& limits) {
  return guarded([&] {
    const json j = parse_object(body, limits);
    TeiDecodeRequest r;
    const json& v = require(j, "ids");
    if (v.is_array() && !v.empty() && v[0].is_number()) {
      r.ids.push_back(read_ids(v, "ids", limits));
    } else if (v.is_array()) {
      check_count(v.size(), "ids", limits);
      for (size_t i = 0; i < v.size(); ++i)
        r.ids.push_back(read_ids(v[i], fmt::format("ids[{}]", i), limits));
    } else {
      reject(422,
             fmt::format("'ids' must be a list of token ids or a list of such lists, got {}",
                         v.type_name()),
             "ids");
    }
    r.skip_special_tokens = read_bool(j, "skip_special_tokens", true);
    return r;
  });
}

}  // namespace smx::serve
