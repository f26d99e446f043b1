// Streaming JSONL for batch inference: read a window of lines, hand the good records to a
// callback (which batches them however it likes), write one output line per input line in input
// order, repeat. Memory is bounded by the window, never by the input.
//
// Input lines: {"id": <any JSON>, "text": "...", "text_pair": "..."} ("id" and "text_pair"
// optional, other keys ignored, blank lines skipped).
#pragma once

#include <cstdint>
#include <functional>
#include <iosfwd>
#include <string>
#include <string_view>
#include <vector>

#include "smx/serve/request.h"

namespace smx::serve {

struct JsonlRecord {
  int64_t line = 0;     // 1-based line number in the input
  std::string id_json;  // the "id" value as JSON text; "" when absent
  TextInput input;
};

// Parses one line into `record`; returns "" on success, else what is wrong with it.
std::string parse_jsonl_record(std::string_view line, int64_t line_number, const Limits& limits,
                               JsonlRecord& record);

// The leading fields of an output line for `record`: "id":<id>, or "line":<n> without an id.
std::string record_key_fields(const JsonlRecord& record);

struct JsonlOptions {
  std::size_t window = 1024;  // lines read (and sorted by length) at a time
  bool skip_bad = false;      // bad line -> {"line": n, "error": "..."} instead of failing
  Limits limits{/*max_body_bytes=*/64 << 20, /*max_inputs=*/1, /*max_text_bytes=*/16 << 20,
                /*max_json_depth=*/16};
};

struct JsonlStats {
  int64_t records = 0;  // good records processed
  int64_t errors = 0;   // bad lines written as error records
};

// `process` gets a window's good records and returns one output line (JSON, no newline) for each.
// Throws smx::Error naming `source` and the line number for a bad line unless skip_bad.
JsonlStats stream_jsonl(
    std::istream& in, std::ostream& out, const std::string& source, const JsonlOptions& options,
    const std::function<std::vector<std::string>(const std::vector<JsonlRecord>&)>& process);

}  // namespace smx::serve
