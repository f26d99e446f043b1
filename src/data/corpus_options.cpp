#include "smx/data/corpus_options.h"

#include "smx/core/error.h"

namespace smx {
namespace {

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

}  // namespace

CorpusFormat parse_corpus_format(std::string_view name) {
  if (name == "auto") return CorpusFormat::auto_detect;
  if (name == "text") return CorpusFormat::text;
  if (name == "jsonl") return CorpusFormat::jsonl;
  fail("unknown corpus format '{}'; use auto, text or jsonl", name);
}

std::string to_string(CorpusFormat format) {
  switch (format) {
    case CorpusFormat::text:
      return "text";
    case CorpusFormat::jsonl:
      return "jsonl";
    default:
      return "auto";
  }
}

CorpusFormat resolve_corpus_format(CorpusFormat format, const std::string& path) {
  if (format != CorpusFormat::auto_detect) return format;
  std::string_view name = path;
  for (const char* suffix : {".gz", ".gzip", ".zst", ".zstd"}) {
    if (ends_with(name, suffix)) {
      name.remove_suffix(std::string_view(suffix).size());
      break;
    }
  }
  for (const char* suffix : {".jsonl", ".json", ".ndjson"}) {
    if (ends_with(name, suffix)) return CorpusFormat::jsonl;
  }
  return CorpusFormat::text;
}

void CorpusOptions::validate() const {
  if (text_field.empty()) fail("corpus options: --text-field must not be empty");
  if (workers < 0 || workers > 256) {
    fail("corpus options: --data-workers {} must be in [0, 256] (0: tokenize inline)", workers);
  }
}

void to_json(nlohmann::json& j, const CorpusOptions& o) {
  j = {{"format", to_string(o.format)},
       {"text_field", o.text_field},
       {"skip_bad_records", o.skip_bad_records},
       {"workers", o.workers}};
}

void from_json(const nlohmann::json& j, CorpusOptions& o) {
  o = CorpusOptions{};
  if (j.contains("format")) o.format = parse_corpus_format(j.at("format").get<std::string>());
  if (j.contains("text_field")) j.at("text_field").get_to(o.text_field);
  if (j.contains("skip_bad_records")) j.at("skip_bad_records").get_to(o.skip_bad_records);
  if (j.contains("workers")) j.at("workers").get_to(o.workers);
}

}  // namespace smx
