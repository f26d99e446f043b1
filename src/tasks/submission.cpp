#include "smx/tasks/submission.h"

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <map>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "smx/core/error.h"
#include "smx/io/text_file.h"
#include "smx/tasks/metrics.h"

namespace smx::tasks {
namespace {

using ordered_json = nlohmann::ordered_json;  // keys in insertion order, as submissions list them

// An id as JSON: a number when it is a plain integer, else the string.
ordered_json id_json(const std::string& id) {
  if (!id.empty()) {
    char* end = nullptr;
    const long long value = std::strtoll(id.c_str(), &end, 10);
    if (end == id.c_str() + id.size()) return ordered_json(static_cast<int64_t>(value));
  }
  return ordered_json(id);
}

const std::string& label_string(const TaskSpec& spec, const std::vector<float>& output) {
  return spec.labels[static_cast<size_t>(argmax(output))];
}

// MultiRC ids are "<passage>:<question>:<answer>".
std::vector<std::string> split_multirc_id(const std::string& id) {
  std::vector<std::string> parts;
  size_t start = 0;
  for (size_t colon; (colon = id.find(':', start)) != std::string::npos; start = colon + 1)
    parts.push_back(id.substr(start, colon - start));
  parts.push_back(id.substr(start));
  if (parts.size() != 3)
    fail(
        "MultiRC submission: example id '{}' is not <passage>:<question>:<answer>; use the ids "
        "read_split produced",
        id);
  return parts;
}

std::string multirc_lines(const std::vector<TaskExample>& examples,
                          const std::vector<std::vector<float>>& outputs) {
  // Passages and questions in order of first appearance.
  std::vector<std::string> passages;
  std::map<std::string, ordered_json> questions_of;            // passage id -> [question objects]
  std::map<std::pair<std::string, std::string>, size_t> slot;  // (passage, question) -> index
  for (size_t i = 0; i < examples.size(); ++i) {
    const auto parts = split_multirc_id(examples[i].id);
    if (!questions_of.count(parts[0])) {
      passages.push_back(parts[0]);
      questions_of[parts[0]] = ordered_json::array();
    }
    ordered_json& questions = questions_of[parts[0]];
    const auto key = std::make_pair(parts[0], parts[1]);
    if (!slot.count(key)) {
      slot[key] = questions.size();
      questions.push_back({{"idx", id_json(parts[1])}, {"answers", ordered_json::array()}});
    }
    questions[slot[key]]["answers"].push_back(
        {{"idx", id_json(parts[2])}, {"label", argmax(outputs[i])}});
  }
  std::string out;
  for (const std::string& p : passages) {
    const ordered_json line = {{"idx", id_json(p)}, {"passage", {{"questions", questions_of[p]}}}};
    out += line.dump() + "\n";
  }
  return out;
}

}  // namespace

std::string format_submission(const TaskSpec& spec, const std::vector<TaskExample>& examples,
                              const std::vector<std::vector<float>>& outputs) {
  if (examples.empty()) fail("{} submission: no examples", spec.display_name);
  if (outputs.size() != examples.size())
    fail("{} submission: {} outputs for {} examples", spec.display_name, outputs.size(),
         examples.size());
  const auto width = static_cast<size_t>(spec.num_outputs());
  for (size_t i = 0; i < outputs.size(); ++i)
    if (outputs[i].size() != width)
      fail("{} submission: output {} has {} values, the task's head has {}", spec.display_name, i,
           outputs[i].size(), width);

  std::string out;
  if (spec.benchmark == Benchmark::kGlue) {
    out = "index\tprediction\n";
    for (size_t i = 0; i < examples.size(); ++i) {
      if (spec.kind == TaskKind::kRegression)
        out += fmt::format("{}\t{:.3f}\n", examples[i].id, std::clamp(outputs[i][0], 0.0f, 5.0f));
      else
        out += fmt::format("{}\t{}\n", examples[i].id, label_string(spec, outputs[i]));
    }
    return out;
  }
  if (spec.name == "multirc") return multirc_lines(examples, outputs);
  if (spec.kind == TaskKind::kRanking) {  // COPA, ReCoRD: one line per group
    for (const auto& group : group_examples(examples)) {
      size_t best = 0;  // position within the group
      for (size_t k = 1; k < group.size(); ++k)
        if (outputs[group[k]][0] > outputs[group[best]][0]) best = k;
      const TaskExample& chosen = examples[group[best]];
      const ordered_json label = spec.name == "record" ? ordered_json(chosen.answer_text)
                                                       : ordered_json(static_cast<int64_t>(best));
      out += ordered_json{{"idx", id_json(chosen.id)}, {"label", label}}.dump() + "\n";
    }
    return out;
  }
  for (size_t i = 0; i < examples.size(); ++i)
    out += ordered_json{{"idx", id_json(examples[i].id)}, {"label", label_string(spec, outputs[i])}}
               .dump() +
           "\n";
  return out;
}

void write_submission(const TaskSpec& spec, const std::vector<TaskExample>& examples,
                      const std::vector<std::vector<float>>& outputs, const std::string& path) {
  io::write_file_atomically(path, format_submission(spec, examples, outputs));
}

}  // namespace smx::tasks
