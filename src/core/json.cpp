#include "smx/core/json.h"

#include "smx/core/error.h"

namespace smx {
namespace {

struct TooDeep {};

nlohmann::json parse_bounded(std::string_view text, const JsonLimits& limits) {
  const int max_depth = limits.max_depth;
  return nlohmann::json::parse(
      text.begin(), text.end(),
      [max_depth](int depth, nlohmann::json::parse_event_t, nlohmann::json&) {
        if (depth > max_depth) throw TooDeep{};
        return true;
      });
}

}  // namespace

nlohmann::json parse_json(std::string_view text, std::string_view source,
                          const JsonLimits& limits) {
  if (text.size() > limits.max_bytes)
    fail(
        "{}: JSON text is {} bytes, over the {}-byte limit; split the input or check that this "
        "is the file you meant",
        source, text.size(), limits.max_bytes);
  try {
    return parse_bounded(text, limits);
  } catch (const TooDeep&) {
    fail("{}: JSON nests deeper than {} levels; no smx input needs that much nesting", source,
         limits.max_depth);
  } catch (const nlohmann::json::exception& e) {
    fail("{}: not valid JSON: {}", source, e.what());
  }
}

bool json_is_valid(std::string_view text, const JsonLimits& limits) {
  if (text.size() > limits.max_bytes) return false;
  try {
    parse_bounded(text, limits);
    return true;
  } catch (...) {
    return false;
  }
}

}  // namespace smx
