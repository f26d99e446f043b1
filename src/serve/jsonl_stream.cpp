#include "smx/serve/jsonl_stream.h"

#include <istream>
#include <ostream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "smx/core/error.h"
#include "smx/core/json.h"
#include "smx/core/utf8.h"
#include "smx/serve/json_output.h"

namespace smx::serve {
namespace {

using json = nlohmann::json;

std::string check_text(const json& j, const char* key, const Limits& limits) {
  const json& v = j[key];
  if (!v.is_string()) return fmt::format("'{}' must be a string, got {}", key, v.type_name());
  const auto& s = v.get_ref<const std::string&>();
  if (s.empty()) return fmt::format("'{}' is an empty string", key);
  if (s.size() > limits.max_text_bytes)
    return fmt::format("'{}' has {} bytes; the limit is {}", key, s.size(), limits.max_text_bytes);
  if (const auto bad = find_invalid_utf8(s))
    return fmt::format("'{}' is not valid UTF-8 (byte {})", key, *bad);
  return "";
}

}  // namespace

std::string parse_jsonl_record(std::string_view line, int64_t line_number, const Limits& limits,
                               JsonlRecord& record) {
  record = JsonlRecord{};
  record.line = line_number;
  if (line.size() > limits.max_body_bytes)
    return fmt::format("line has {} bytes; the limit is {}", line.size(), limits.max_body_bytes);
  if (const auto bad = find_invalid_utf8(line))
    return fmt::format("byte {} of the line is not valid UTF-8; the input must be UTF-8 text",
                       *bad);
  json j;
  try {
    JsonLimits json_limits;
    json_limits.max_depth = limits.max_json_depth;
    j = parse_json(line, "the line", json_limits);
  } catch (const Error& e) {
    return fmt::format("malformed JSON ({})", e.what());
  }
  if (!j.is_object())
    return fmt::format("expected an object {{\"id\": ..., \"text\": ...}}, got {}", j.type_name());
  if (j.contains("id")) record.id_json = dump_json(j["id"]);
  if (!j.contains("text")) return "missing 'text'";
  if (auto e = check_text(j, "text", limits); !e.empty()) return e;
  record.input.text = j["text"].get<std::string>();
  if (j.contains("text_pair")) {
    if (auto e = check_text(j, "text_pair", limits); !e.empty()) return e;
    record.input.text_pair = j["text_pair"].get<std::string>();
  }
  return "";
}

std::string record_key_fields(const JsonlRecord& record) {
  return record.id_json.empty() ? fmt::format("\"line\":{}", record.line)
                                : "\"id\":" + record.id_json;
}

JsonlStats stream_jsonl(
    std::istream& in, std::ostream& out, const std::string& source, const JsonlOptions& options,
    const std::function<std::vector<std::string>(const std::vector<JsonlRecord>&)>& process) {
  JsonlStats stats;
  int64_t line_number = 0;
  std::string line;
  bool done = false;
  while (!done) {
    // One window: output slots in input order; good records point at their slot.
    std::vector<std::string> slots;
    std::vector<JsonlRecord> good;
    std::vector<size_t> good_slot;
    while (slots.size() < options.window) {
      if (!std::getline(in, line)) {
        done = true;
        break;
      }
      ++line_number;
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line.find_first_not_of(" \t") == std::string::npos) continue;
      JsonlRecord record;
      const std::string error = parse_jsonl_record(line, line_number, options.limits, record);
      if (!error.empty()) {
        if (!options.skip_bad)
          fail(
              "{}:{}: {} (fix the line, or pass --skip-bad to write an error record for it and "
              "go on)",
              source, line_number, error);
        std::string slot = "{\"line\":" + std::to_string(line_number);
        if (!record.id_json.empty()) slot += ",\"id\":" + record.id_json;
        slot += ",\"error\":" + dump_json(error) + "}";
        slots.push_back(std::move(slot));
        ++stats.errors;
        continue;
      }
      good_slot.push_back(slots.size());
      slots.emplace_back();
      good.push_back(std::move(record));
    }
    if (in.bad()) fail("{}: read error after line {}", source, line_number);
    if (!good.empty()) {
      std::vector<std::string> lines = process(good);
      if (lines.size() != good.size())
        fail("internal: {} outputs for {} records", lines.size(), good.size());
      for (size_t i = 0; i < good.size(); ++i) slots[good_slot[i]] = std::move(lines[i]);
      stats.records += static_cast<int64_t>(good.size());
    }
    for (const auto& s : slots) out << s << '\n';
    out.flush();
    if (!out) fail("cannot write the output (disk full or closed pipe?)");
  }
  return stats;
}

}  // namespace smx::serve
