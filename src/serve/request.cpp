#include "smx/serve/request.h"

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

ParsedRequest rejected_request(int status, std::string message) {
  ParsedRequest r;
  r.status = status;
  r.error = std::move(message);
  return r;
}

// Checks one text field; returns an error message or "".
std::string check_text(const json& value, const std::string& where, const Limits& limits,
                       int& status) {
  status = 400;
  if (!value.is_string())
    return fmt::format("{} must be a string, got {}", where, value.type_name());
  const auto& text = value.get_ref<const std::string&>();
  if (text.empty()) return fmt::format("{} is an empty string", where);
  if (text.size() > limits.max_text_bytes) {
    status = 413;
    return fmt::format("{} has {} bytes; the limit is {}", where, text.size(),
                       limits.max_text_bytes);
  }
  if (const auto bad = find_invalid_utf8(text))
    return fmt::format("{} is not valid UTF-8 (byte {})", where, *bad);
  return "";
}

// X = "text" | {"text": "...", "text_pair": "..."}.
std::string read_input(const json& value, const std::string& where, const Limits& limits,
                       TextInput& out, int& status) {
  status = 400;
  if (value.is_string()) {
    if (auto e = check_text(value, where, limits, status); !e.empty()) return e;
    out.text = value.get<std::string>();
    return "";
  }
  if (!value.is_object())
    return fmt::format(
        "{} must be a string or an object {{\"text\": ..., \"text_pair\": ...}}, "
        "got {}",
        where, value.type_name());
  for (const auto& [key, item] : value.items())
    if (key != "text" && key != "text_pair")
      return fmt::format("{} has unknown key '{}' (expected text, text_pair)", where, key);
  if (!value.contains("text")) return fmt::format("{} is missing 'text'", where);
  if (auto e = check_text(value["text"], where + ".text", limits, status); !e.empty()) return e;
  out.text = value["text"].get<std::string>();
  if (value.contains("text_pair")) {
    if (auto e = check_text(value["text_pair"], where + ".text_pair", limits, status); !e.empty())
      return e;
    out.text_pair = value["text_pair"].get<std::string>();
  }
  return "";
}

ParsedRequest parse_request(std::string_view body, const Limits& limits, bool allow_pooling) {
  int body_status = 0;
  std::string why;
  const auto body_object = parse_body_object(body, limits, &body_status, &why);
  if (!body_object) return rejected_request(body_status, why);
  const json& j = *body_object;

  ParsedRequest r;
  for (const auto& [key, value] : j.items()) {
    if (key == "input" || key == "inputs") continue;
    if (key == "pooling" && allow_pooling) {
      if (!value.is_string())
        return rejected_request(
            400, fmt::format("'pooling' must be a string, got {}", value.type_name()));
      const auto pooling = parse_pooling(value.get_ref<const std::string&>());
      if (!pooling)
        return rejected_request(400,
                                "'pooling' must be \"cls\", \"cls_token\", \"mean\", \"max\", "
                                "\"last\" or \"tokens\"");
      r.pooling = *pooling;
      r.pooling_given = true;
      continue;
    }
    if (key == "normalize" && allow_pooling) {
      if (!value.is_boolean())
        return rejected_request(
            400, fmt::format("'normalize' must be true or false, got {}", value.type_name()));
      r.normalize = value.get<bool>();
      continue;
    }
    return rejected_request(400, fmt::format("unknown key '{}' (expected input or inputs{})", key,
                                             allow_pooling ? ", pooling, normalize" : ""));
  }
  const bool has_input = j.contains("input"), has_inputs = j.contains("inputs");
  if (has_input == has_inputs)
    return rejected_request(400, "send exactly one of 'input' (one text) or 'inputs' (a list)");
  int status = 400;
  if (has_input) {
    r.inputs.emplace_back();
    if (auto e = read_input(j["input"], "input", limits, r.inputs.back(), status); !e.empty())
      return rejected_request(status, e);
    return r;
  }
  const json& list = j["inputs"];
  if (!list.is_array())
    return rejected_request(400, fmt::format("'inputs' must be a list, got {}", list.type_name()));
  if (list.empty()) return rejected_request(400, "'inputs' is an empty list");
  if (list.size() > limits.max_inputs)
    return rejected_request(413, fmt::format("'inputs' has {} entries; the limit is {} per request",
                                             list.size(), limits.max_inputs));
  r.batched = true;
  r.inputs.resize(list.size());
  for (std::size_t i = 0; i < list.size(); ++i)
    if (auto e = read_input(list[i], fmt::format("inputs[{}]", i), limits, r.inputs[i], status);
        !e.empty())
      return rejected_request(status, e);
  return r;
}

ParsedRequest parse_guarded(std::string_view body, const Limits& limits, bool allow_pooling) {
  try {
    return parse_request(body, limits, allow_pooling);
  } catch (const std::bad_alloc&) {
    return rejected_request(413, "request too large to parse");
  } catch (const std::exception& e) {
    return rejected_request(400, fmt::format("cannot parse the request: {}", e.what()));
  }
}

}  // namespace

std::optional<json> parse_body_object(std::string_view body, const Limits& limits, int* status,
                                      std::string* message) {
  auto refuse = [&](int code, std::string why) {
    *status = code;
    *message = std::move(why);
    return std::nullopt;
  };
  if (body.size() > limits.max_body_bytes)
    return refuse(413, fmt::format("request body has {} bytes; the limit is {}", body.size(),
                                   limits.max_body_bytes));
  if (body.find_first_not_of(" \t\r\n") == std::string_view::npos)
    return refuse(400, "empty request body; send a JSON object such as {\"input\": \"text\"}");
  json j;
  try {
    JsonLimits json_limits;
    json_limits.max_depth = limits.max_json_depth;
    json_limits.max_bytes = limits.max_body_bytes;
    j = parse_json(body, "request body", json_limits);
  } catch (const Error& e) {
    return refuse(400, fmt::format("malformed JSON: {}", e.what()));
  } catch (const std::bad_alloc&) {
    return refuse(413, "request too large to parse");
  }
  if (!j.is_object())
    return refuse(400, fmt::format("the body must be a JSON object, got {}", j.type_name()));
  return j;
}

ParsedRequest parse_embed_request(std::string_view body, const Limits& limits) {
  return parse_guarded(body, limits, /*allow_pooling=*/true);
}

ParsedRequest parse_classify_request(std::string_view body, const Limits& limits) {
  return parse_guarded(body, limits, /*allow_pooling=*/false);
}

}  // namespace smx::serve
