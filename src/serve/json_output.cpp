#include "smx/serve/json_output.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <iterator>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace smx::serve {
namespace {

void append_float(std::string& out, float v) {
  if (!std::isfinite(v)) {
    out += "null";
    return;
  }
  fmt::format_to(std::back_inserter(out), "{}", v);
}

void append_row(std::string& out, const float* v, int64_t n) {
  out += '[';
  for (int64_t i = 0; i < n; ++i) {
    if (i) out += ',';
    append_float(out, v[i]);
  }
  out += ']';
}

}  // namespace

void append_json_floats(std::string& out, const ExampleOutput& output, bool force_rows) {
  if (output.rows == 1 && !force_rows) {
    append_row(out, output.values.data(), output.cols);
    return;
  }
  out += '[';
  for (int64_t r = 0; r < output.rows; ++r) {
    if (r) out += ',';
    append_row(out, output.values.data() + r * output.cols, output.cols);
  }
  out += ']';
}

void l2_normalize(std::vector<float>& values) {
  double sum = 0;
  for (const float v : values) sum += double(v) * double(v);
  if (sum <= 0) return;
  const double scale = 1.0 / std::sqrt(sum);
  for (float& v : values) v = static_cast<float>(double(v) * scale);
}

std::string base64_floats(const std::vector<float>& values) {
  static const char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::vector<unsigned char> bytes;
  bytes.reserve(values.size() * 4);
  for (const float v : values) {
    uint32_t bits = 0;
    std::memcpy(&bits, &v, sizeof bits);
    for (int b = 0; b < 4; ++b) bytes.push_back(static_cast<unsigned char>(bits >> (8 * b)));
  }
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  for (size_t i = 0; i < bytes.size(); i += 3) {
    const uint32_t n = (uint32_t(bytes[i]) << 16) |
                       (i + 1 < bytes.size() ? uint32_t(bytes[i + 1]) << 8 : 0U) |
                       (i + 2 < bytes.size() ? uint32_t(bytes[i + 2]) : 0U);
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += i + 1 < bytes.size() ? kAlphabet[(n >> 6) & 63] : '=';
    out += i + 2 < bytes.size() ? kAlphabet[n & 63] : '=';
  }
  return out;
}

std::string dump_json(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string error_json(std::string_view message) {
  return dump_json(nlohmann::json{{"error", std::string(message)}});
}

std::string prediction_fields(const ExampleOutput& logits, const ModelBundle& bundle) {
  std::string out;
  const auto& task = bundle.task();
  if (task && !task->has_classes()) {
    out += "\"score\":";
    append_float(out, logits.values.empty() ? 0.0F : logits.values[0]);
  } else {
    // softmax in double for the probabilities
    const auto& v = logits.values;
    const auto best = static_cast<size_t>(std::max_element(v.begin(), v.end()) - v.begin());
    double total = 0;
    std::vector<double> e(v.size());
    for (size_t i = 0; i < v.size(); ++i) total += e[i] = std::exp(double(v[i]) - v[best]);
    ExampleOutput probs;
    probs.cols = logits.cols;
    for (double x : e) probs.values.push_back(static_cast<float>(x / total));
    nlohmann::json label = static_cast<int64_t>(best);
    if (task && best < task->labels.size()) label = task->labels[best];
    out += "\"label\":" + dump_json(label);
    out += fmt::format(",\"label_index\":{},\"probabilities\":", best);
    append_json_floats(out, probs);
  }
  out += ",\"logits\":";
  append_json_floats(out, logits);
  return out;
}

}  // namespace smx::serve
