// How the pre-training corpus files are read: their format, the JSON field that holds the text,
// what to do with a bad record, and how many threads tokenize. docs/pretraining.md shows them in
// use.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace smx {

enum class CorpusFormat {
  auto_detect,  // by name: *.jsonl, *.json, *.ndjson (optionally + .gz/.zst) are JSON Lines
  text,         // one sentence or paragraph per line, blank lines between documents
  jsonl,        // one JSON object per line, the document's text in `text_field`
};

CorpusFormat parse_corpus_format(std::string_view name);  // "auto" | "text" | "jsonl"
std::string to_string(CorpusFormat format);
// The format `path` is read in: `format` unless auto_detect, else decided by the file name.
CorpusFormat resolve_corpus_format(CorpusFormat format, const std::string& path);

struct CorpusOptions {
  CorpusFormat format = CorpusFormat::auto_detect;
  std::string text_field = "text";  // JSON Lines: the string field holding the document
  // false: a bad record (a line that is not JSON, lacks the text field, has invalid UTF-8, or a
  // corrupt / vanished compressed shard) stops the run with an error naming shard and line.
  // true: it is counted and skipped (a damaged compressed stream loses the rest of its shard).
  bool skip_bad_records = false;
  // Threads that parse and tokenize documents; 0 tokenizes on the example generator's thread.
  // The examples do not depend on it.
  int64_t workers = 1;

  void validate() const;  // throws smx::Error naming the bad option
};

void to_json(nlohmann::json& j, const CorpusOptions& o);
void from_json(const nlohmann::json& j, CorpusOptions& o);

}  // namespace smx
