#include "smx/tasks/score_table.h"

#include <fmt/format.h>

namespace smx::tasks {
namespace {

// The tasks behind each column: MNLI has two (matched, mismatched), the others one.
std::vector<std::vector<std::string>> column_tasks(Benchmark benchmark) {
  if (benchmark == Benchmark::kGlue)
    return {{"mnli-m", "mnli-mm"},
            {"qqp"},
            {"qnli"},
            {"sst-2"},
            {"cola"},
            {"sts-b"},
            {"mrpc"},
            {"rte"}};
  return {{"boolq"}, {"cb"}, {"copa"}, {"multirc"}, {"record"}, {"superglue-rte"}, {"wic"}};
}

// Results keyed by canonical name (the map may use aliases).
std::map<std::string, TaskMetrics> canonical(const std::map<std::string, TaskMetrics>& results) {
  std::map<std::string, TaskMetrics> out;
  for (const auto& [name, metrics] : results) out[find_task(name).name] = metrics;
  return out;
}

std::string percent(double value) {
  return fmt::format("{:.1f}", 100.0 * value);
}

std::string cell(const std::vector<std::string>& tasks,
                 const std::map<std::string, TaskMetrics>& results) {
  std::vector<std::string> parts;
  if (tasks.size() > 1) {  // MNLI: one accuracy per dev set
    for (const auto& name : tasks) {
      const auto it = results.find(name);
      parts.push_back(it == results.end() ? "-" : percent(it->second.at("accuracy")));
    }
    if (parts[0] == "-" && parts[1] == "-") return "-";
  } else {
    const auto it = results.find(tasks[0]);
    if (it == results.end()) return "-";
    for (const auto& metric : find_task(tasks[0]).metrics) {
      const auto m = it->second.find(metric);
      parts.push_back(m == it->second.end() ? "?" : percent(m->second));
    }
  }
  std::string text = parts[0];
  for (size_t i = 1; i < parts.size(); ++i) text += " / " + parts[i];
  return text;
}

// The benchmark's tasks that count in its average (the table's tasks; no WNLI, no AX).
std::map<std::string, TaskMetrics> averaged(Benchmark benchmark,
                                            const std::map<std::string, TaskMetrics>& results) {
  std::map<std::string, TaskMetrics> out;
  for (const auto& column : column_tasks(benchmark))
    for (const auto& name : column)
      if (results.count(name) > 0) out[name] = results.at(name);
  return out;
}

}  // namespace

std::vector<std::string> table_columns(Benchmark benchmark) {
  std::vector<std::string> titles;
  for (const auto& tasks : column_tasks(benchmark))
    titles.push_back(tasks.size() > 1 ? "MNLI" : find_task(tasks[0]).display_name);
  return titles;
}

std::string format_score_table(Benchmark benchmark, const std::string& model_name,
                               const std::map<std::string, TaskMetrics>& raw) {
  const auto results = canonical(raw);
  std::string header = "| Model |", rule = "|---|", row = "| " + model_name + " |";
  for (const auto& title : table_columns(benchmark)) {
    header += " " + title + " |";
    rule += "---|";
  }
  header += " Avg. |";
  rule += "---|";
  for (const auto& tasks : column_tasks(benchmark)) row += " " + cell(tasks, results) + " |";
  const auto counted = averaged(benchmark, results);
  row += " " +
         (counted.empty() ? std::string("-")
                          : percent(benchmark == Benchmark::kGlue ? glue_average(counted)
                                                                  : superglue_average(counted))) +
         " |";
  return header + "\n" + rule + "\n" + row + "\n";
}

nlohmann::json score_table_json(const std::string& model_name,
                                const std::map<std::string, TaskMetrics>& raw) {
  const auto results = canonical(raw);
  nlohmann::json j = {{"model", model_name}, {"tasks", nlohmann::json::object()}};
  for (const auto& [name, metrics] : results)
    j["tasks"][name] = {{"metrics", metrics}, {"score", task_score(find_task(name), metrics)}};
  const auto glue = averaged(Benchmark::kGlue, results);
  const auto superglue = averaged(Benchmark::kSuperGlue, results);
  j["glue_average"] = glue.empty() ? nlohmann::json(nullptr) : nlohmann::json(glue_average(glue));
  j["superglue_average"] =
      superglue.empty() ? nlohmann::json(nullptr) : nlohmann::json(superglue_average(superglue));
  return j;
}

}  // namespace smx::tasks
