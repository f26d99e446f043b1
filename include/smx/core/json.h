// The one way smx parses JSON it did not write itself: configs, model folders, safetensors
// metadata, task and corpus lines, forward inputs, HTTP bodies. Every reader goes through here so
// that depth and size limits hold everywhere: nlohmann::json parses deep input iteratively, but
// copying, dumping or comparing a value recurses, so a 100,000-deep array in a config value would
// overflow the stack far from the parser.
#pragma once

#include <cstddef>
#include <string_view>

#include <nlohmann/json.hpp>

namespace smx {

struct JsonLimits {
  int max_depth = 64;                  // nesting levels of arrays and objects
  std::size_t max_bytes = 256u << 20;  // text length
};

// Parses `text`; on any failure throws smx::Error "<source>: <what> ..." where `source` names the
// file, line or request the text came from (e.g. "task.jsonl:12", "config.json").
nlohmann::json parse_json(std::string_view text, std::string_view source,
                          const JsonLimits& limits = {});

// Whether `text` parses within `limits` (for callers that report their own message).
bool json_is_valid(std::string_view text, const JsonLimits& limits = {});

}  // namespace smx
