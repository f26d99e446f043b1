// Request parsing for the HTTP API (docs/serving.md): pure functions from a body to either the
// inputs or an HTTP status with a message. They never throw and never touch the model, so they
// can be unit-tested and fuzzed (fuzz/request_fuzzer.cpp) on their own.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "smx/serve/pooling.h"

namespace smx::serve {

// Bounds checked before any tokenization; the token limit is applied later, by the server.
struct Limits {
  std::size_t max_body_bytes = 1 << 20;   // whole body (413 above)
  std::size_t max_inputs = 64;            // entries of "inputs" (413 above)
  std::size_t max_text_bytes = 64 << 10;  // one text or text_pair (413 above)
  int max_json_depth = 8;                 // nesting of [ and { (400 above)
};

// One input: a text, or a text pair ([CLS] text [SEP] text_pair [SEP]).
struct TextInput {
  std::string text;
  std::optional<std::string> text_pair;
};

struct ParsedRequest {
  int status = 200;   // 200 when parsed; else the HTTP status to answer with
  std::string error;  // why, when status != 200
  std::vector<TextInput> inputs;
  bool batched = false;  // "inputs": [...] rather than "input": ...
  Pooling pooling = Pooling::kCls;
  bool pooling_given = false;     // "pooling" was in the request (else the model's default)
  std::optional<bool> normalize;  // "normalize" (else the model's default)

  bool ok() const { return status == 200; }
};

// {"input": X} or {"inputs": [X, ...]}, X = "text" or {"text": "...", "text_pair": "..."};
// optional "pooling": "cls" | "cls_token" | "mean" | "max" | "last" | "tokens", optional
// "normalize": true | false (L2-normalise the pooled vector).
ParsedRequest parse_embed_request(std::string_view body, const Limits& limits);
// The same without "pooling" and "normalize".
ParsedRequest parse_classify_request(std::string_view body, const Limits& limits);

// A request body as a JSON object (through smx::parse_json, so depth and size are bounded). On
// failure returns nullopt with the answer in `status` / `message`: 413 over max_body_bytes, 400 for
// an empty body, malformed JSON (too deep included) or a value that is not an object. Every route's
// body parser starts here.
std::optional<nlohmann::json> parse_body_object(std::string_view body, const Limits& limits,
                                                int* status, std::string* message);

}  // namespace smx::serve
