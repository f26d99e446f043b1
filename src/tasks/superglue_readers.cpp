#include "smx/tasks/superglue_readers.h"

#include <algorithm>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "smx/core/error.h"
#include "smx/core/json.h"
#include "tasks/text_lines.h"

namespace smx::tasks {
namespace {

using json = nlohmann::json;

// Where a value sits, for error messages: file, line, and the JSON path of the field.
struct Where {
  const std::string& path;
  int64_t line;
};

const json& member(const json& obj, const std::string& key, const Where& at,
                   const std::string& field_path) {
  if (!obj.is_object())
    fail("{}:{}: field '{}' should be a JSON object, found {}", at.path, at.line, field_path,
         obj.type_name());
  const auto it = obj.find(key);
  if (it == obj.end())
    fail("{}:{}: missing field '{}'; check the file is the official SuperGLUE jsonl", at.path,
         at.line, field_path.empty() ? key : field_path + "." + key);
  return *it;
}

std::string join_path(const std::string& parent, const std::string& key) {
  return parent.empty() ? key : parent + "." + key;
}

std::string string_member(const json& obj, const std::string& key, const Where& at,
                          const std::string& parent = "") {
  const json& v = member(obj, key, at, parent);
  if (!v.is_string())
    fail("{}:{}: field '{}' should be a string, found {}", at.path, at.line, join_path(parent, key),
         v.dump());
  return v.get<std::string>();
}

const json& array_member(const json& obj, const std::string& key, const Where& at,
                         const std::string& parent = "") {
  const json& v = member(obj, key, at, parent);
  if (!v.is_array())
    fail("{}:{}: field '{}' should be an array, found {}", at.path, at.line, join_path(parent, key),
         v.type_name());
  return v;
}

int64_t int_member(const json& obj, const std::string& key, const Where& at,
                   const std::string& parent = "") {
  const json& v = member(obj, key, at, parent);
  if (!v.is_number_integer())
    fail("{}:{}: field '{}' should be an integer, found {}", at.path, at.line,
         join_path(parent, key), v.dump());
  return v.get<int64_t>();
}

// idx as the leaderboard wants it back: integers as decimal text, strings as they are.
std::string id_member(const json& obj, const std::string& key, const Where& at,
                      const std::string& parent = "") {
  const json& v = member(obj, key, at, parent);
  if (v.is_number_integer()) return std::to_string(v.get<int64_t>());
  if (v.is_string()) return v.get<std::string>();
  fail("{}:{}: field '{}' should be an integer, found {}", at.path, at.line, join_path(parent, key),
       v.dump());
}

// A label value as its registry string: JSON booleans "false"/"true", integers as text.
int64_t label_member(const TaskSpec& spec, const json& obj, const Where& at,
                     const std::string& parent = "") {
  const json& v = member(obj, spec.label_field, at, parent);
  std::string text;
  if (v.is_boolean())
    text = v.get<bool>() ? "true" : "false";
  else if (v.is_number_integer())
    text = std::to_string(v.get<int64_t>());
  else if (v.is_string())
    text = v.get<std::string>();
  else
    text = v.dump();
  const int64_t id = spec.label_id(text);
  if (id < 0)
    fail("{}:{}: field '{}': {} is not a label of {} (expected one of: {})", at.path, at.line,
         join_path(parent, spec.label_field), v.dump(), spec.display_name,
         fmt::join(spec.labels, ", "));
  return id;
}

std::string strip(const std::string& s) {
  const char* ws = " \t\n\r\f\v";
  const size_t b = s.find_first_not_of(ws);
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(ws) - b + 1);
}

// Byte offset of every code point of UTF-8 `text`, plus text.size() at the end.
std::vector<size_t> code_point_offsets(const std::string& text) {
  std::vector<size_t> offsets;
  for (size_t i = 0; i < text.size(); ++i)
    if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) offsets.push_back(i);
  offsets.push_back(text.size());
  return offsets;
}

void read_plain(const TaskSpec& spec, const json& row, const Where& at, bool labelled,
                std::vector<TaskExample>& out) {
  TaskExample ex;
  for (const std::string& f : spec.segment_fields) ex.segments.push_back(string_member(row, f, at));
  ex.id = id_member(row, spec.id_field, at);
  ex.has_label = labelled;
  if (labelled) ex.label = static_cast<float>(label_member(spec, row, at));
  out.push_back(std::move(ex));
}

void read_copa(const TaskSpec& spec, const json& row, const Where& at, bool labelled, int64_t group,
               std::vector<TaskExample>& out) {
  const std::string premise = string_member(row, "premise", at);
  const std::string question = string_member(row, "question", at);  // "cause" | "effect"
  const std::string id = id_member(row, spec.id_field, at);
  const int64_t answer = labelled ? label_member(spec, row, at) : -1;
  for (int64_t k = 0; k < 2; ++k) {
    TaskExample ex;
    ex.segments = {premise, question, string_member(row, k == 0 ? "choice1" : "choice2", at)};
    ex.has_label = labelled;
    ex.label = answer == k ? 1.0f : 0.0f;
    ex.group = group;
    ex.id = id;
    out.push_back(std::move(ex));
  }
}

void read_multirc(const TaskSpec& spec, const json& row, const Where& at, bool labelled,
                  int64_t& group, std::vector<TaskExample>& out) {
  const std::string passage_id = id_member(row, spec.id_field, at);
  const json& passage = member(row, "passage", at, "");
  const std::string paragraph = strip_multirc_tags(string_member(passage, "text", at, "passage"));
  const json& questions = array_member(passage, "questions", at, "passage");
  for (size_t q = 0; q < questions.size(); ++q) {
    const std::string qpath = fmt::format("passage.questions[{}]", q);
    const json& qobj = questions[q];
    const std::string question = string_member(qobj, "question", at, qpath);
    const std::string question_id = id_member(qobj, "idx", at, qpath);
    const json& answers = array_member(qobj, "answers", at, qpath);
    if (answers.empty()) fail("{}:{}: field '{}.answers' is empty", at.path, at.line, qpath);
    for (size_t a = 0; a < answers.size(); ++a) {
      const std::string apath = fmt::format("{}.answers[{}]", qpath, a);
      TaskExample ex;
      ex.segments = {question, string_member(answers[a], "text", at, apath), paragraph};
      ex.has_label = labelled;
      if (labelled) ex.label = static_cast<float>(label_member(spec, answers[a], at, apath));
      ex.group = group;
      ex.id =
          fmt::format("{}:{}:{}", passage_id, question_id, id_member(answers[a], "idx", at, apath));
      out.push_back(std::move(ex));
    }
    ++group;
  }
}

void read_record(const TaskSpec& spec, const json& row, const Where& at, bool labelled,
                 int64_t& group, std::vector<TaskExample>& out) {
  const json& passage = member(row, "passage", at, "");
  const std::string text = string_member(passage, "text", at, "passage");
  const std::vector<size_t> offsets = code_point_offsets(text);
  const int64_t length = static_cast<int64_t>(offsets.size()) - 1;  // in code points

  // Candidates: distinct stripped entity texts, sorted (TFDS super_glue/record).
  std::set<std::string> entities;
  const json& spans = array_member(passage, "entities", at, "passage");
  for (size_t e = 0; e < spans.size(); ++e) {
    const std::string epath = fmt::format("passage.entities[{}]", e);
    const int64_t start = int_member(spans[e], "start", at, epath);
    const int64_t end = int_member(spans[e], "end", at, epath);  // inclusive
    if (start < 0 || end < start || end >= length)
      fail("{}:{}: field '{}': span [{}, {}] is outside the passage of {} characters", at.path,
           at.line, epath, start, end, length);
    const size_t b = offsets[static_cast<size_t>(start)];
    entities.insert(strip(text.substr(b, offsets[static_cast<size_t>(end + 1)] - b)));
  }
  if (entities.empty())
    fail("{}:{}: field 'passage.entities' is empty; ReCoRD needs candidate entities", at.path,
         at.line);

  const json& qas = array_member(row, "qas", at);
  for (size_t q = 0; q < qas.size(); ++q) {
    const std::string qpath = fmt::format("qas[{}]", q);
    const std::string query = string_member(qas[q], "query", at, qpath);
    const std::string query_id = id_member(qas[q], "idx", at, qpath);
    std::set<std::string> gold;
    if (labelled) {
      const json& answers = array_member(qas[q], spec.label_field, at, qpath);
      for (size_t a = 0; a < answers.size(); ++a)
        gold.insert(
            strip(string_member(answers[a], "text", at, fmt::format("{}.answers[{}]", qpath, a))));
      if (gold.empty())
        fail("{}:{}: field '{}.answers' is empty; a labelled ReCoRD query needs an answer", at.path,
             at.line, qpath);
    }
    const std::vector<std::string> gold_answers(gold.begin(), gold.end());
    for (const std::string& entity : entities) {
      TaskExample ex;
      ex.segments = {entity, query, text};
      ex.has_label = labelled;
      ex.label = gold.count(entity) ? 1.0f : 0.0f;
      ex.group = group;
      ex.id = query_id;
      ex.answer_text = entity;
      ex.gold_answers = gold_answers;
      out.push_back(std::move(ex));
    }
    ++group;
  }
}

}  // namespace

std::string strip_multirc_tags(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    if (text.compare(i, 4, "<br>") == 0) {
      out += ' ';
      i += 4;
    } else if (text.compare(i, 3, "<b>") == 0) {
      i += 3;
    } else if (text.compare(i, 4, "</b>") == 0) {
      i += 4;
    } else {
      out += text[i++];
    }
  }
  return out;
}

std::vector<TaskExample> read_superglue_jsonl(const TaskSpec& spec, const std::string& path,
                                              Split split, ReadStats* stats) {
  const bool labelled = split != Split::kTest;
  std::vector<TaskExample> examples;
  int64_t group = 0;  // running question / query number
  for (const TextLine& line : read_text_lines(path)) {
    const json row = parse_json(line.text, fmt::format("{}:{}", path, line.number));
    if (!row.is_object())
      fail("{}:{}: expected a JSON object, found {}", path, line.number, row.type_name());
    if (stats) ++stats->rows;
    const Where at{path, line.number};
    if (spec.name == "copa") {
      read_copa(spec, row, at, labelled, group++, examples);
    } else if (spec.name == "multirc") {
      read_multirc(spec, row, at, labelled, group, examples);
    } else if (spec.name == "record") {
      read_record(spec, row, at, labelled, group, examples);
    } else {
      read_plain(spec, row, at, labelled, examples);
    }
  }
  return examples;
}

}  // namespace smx::tasks
