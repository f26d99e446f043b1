// Writing results as JSON text: float arrays in their shortest round-trip form (what a reader
// parses back is bit-identical to the float computed), and error bodies that stay valid JSON
// whatever bytes the message quotes.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "smx/serve/inference.h"
#include "smx/serve/model_bundle.h"

namespace smx::serve {

// Appends [v0,v1,...] (or [[...],[...]] for rows > 1, or always nested when `force_rows`);
// NaN and infinities become null.
void append_json_floats(std::string& out, const ExampleOutput& output, bool force_rows = false);

// nlohmann dump that replaces invalid UTF-8 instead of throwing.
std::string dump_json(const nlohmann::json& j);

// Scales `values` to unit L2 norm (in double); all-zero vectors stay as they are.
void l2_normalize(std::vector<float>& values);

// Base64 (RFC 4648, padded) of the floats as little-endian IEEE float32 bytes: what OpenAI's
// encoding_format "base64" carries and its clients decode.
std::string base64_floats(const std::vector<float>& values);

// {"error": "<message>"}
std::string error_json(std::string_view message);

// The fields a classify/score result has, without braces: "label":..,"probabilities":[..],
// "logits":[..] for class kinds; "score":x,"logits":[..] otherwise.
std::string prediction_fields(const ExampleOutput& logits, const ModelBundle& bundle);

}  // namespace smx::serve
