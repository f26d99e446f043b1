#include "smx/tasks/task_evaluation.h"

#include <cmath>

#include <fmt/format.h>

#include "smx/core/error.h"
#include "smx/tasks/metrics.h"
#include "smx/tasks/record_normalization.h"

namespace smx::tasks {
namespace {

void check_inputs(const TaskSpec& spec, const std::vector<TaskExample>& examples,
                  const std::vector<std::vector<float>>& outputs) {
  if (examples.empty()) fail("evaluate {}: no examples", spec.display_name);
  if (outputs.size() != examples.size())
    fail("evaluate {}: {} outputs for {} examples; pass one output row per example",
         spec.display_name, outputs.size(), examples.size());
  const auto width = static_cast<size_t>(spec.num_outputs());
  for (size_t i = 0; i < examples.size(); ++i) {
    if (!examples[i].has_label)
      fail("evaluate {}: example {} (id '{}') has no label; evaluate a dev split, not test",
           spec.display_name, i, examples[i].id);
    if (outputs[i].size() != width)
      fail("evaluate {}: output {} has {} values, the task's head has {}", spec.display_name, i,
           outputs[i].size(), width);
  }
}

std::vector<int64_t> label_ids(const std::vector<TaskExample>& examples) {
  std::vector<int64_t> ids;
  for (const TaskExample& e : examples) ids.push_back(static_cast<int64_t>(std::lround(e.label)));
  return ids;
}

std::vector<int64_t> predictions(const std::vector<std::vector<float>>& outputs) {
  std::vector<int64_t> ids;
  for (const auto& o : outputs) ids.push_back(argmax(o));
  return ids;
}

// Index (into examples) of the highest-scoring candidate of a group; first on ties.
size_t best_candidate(const std::vector<size_t>& group,
                      const std::vector<std::vector<float>>& outputs) {
  size_t best = group.front();
  for (const size_t i : group)
    if (outputs[i][0] > outputs[best][0]) best = i;
  return best;
}

// Mean of task_score per score group (MNLI-m + MNLI-mm = one task) over a benchmark's tasks.
double benchmark_average(Benchmark benchmark, const std::map<std::string, TaskMetrics>& results) {
  std::map<std::string, std::pair<double, int>> groups;  // group -> (sum of scores, count)
  for (const auto& [name, metrics] : results) {
    const TaskSpec& spec = find_task(name);
    if (spec.benchmark != benchmark || !spec.in_average) continue;
    auto& g = groups[spec.score_group.empty() ? spec.name : spec.score_group];
    g.first += task_score(spec, metrics);
    g.second += 1;
  }
  if (groups.empty())
    fail("{} average: no {} task among the results; key the map by task name",
         benchmark_name(benchmark), benchmark_name(benchmark));
  double sum = 0;
  for (const auto& [group, g] : groups) sum += g.first / g.second;
  return sum / static_cast<double>(groups.size());
}

}  // namespace

TaskMetrics evaluate(const TaskSpec& spec, const std::vector<TaskExample>& examples,
                     const std::vector<std::vector<float>>& outputs) {
  check_inputs(spec, examples, outputs);
  TaskMetrics m;
  if (spec.kind == TaskKind::kRegression) {
    std::vector<double> predicted, target;
    for (size_t i = 0; i < examples.size(); ++i) {
      predicted.push_back(outputs[i][0]);
      target.push_back(examples[i].label);
    }
    m["pearson"] = pearson_corrcoef(predicted, target);
    m["spearman"] = spearman_corrcoef(predicted, target);
  } else if (spec.kind == TaskKind::kRanking) {
    // COPA: accuracy of the argmax choice. ReCoRD: its text against the query's gold answers.
    const auto groups = group_examples(examples);
    double correct = 0, f1 = 0, em = 0;
    for (const auto& group : groups) {
      const TaskExample& chosen = examples[best_candidate(group, outputs)];
      correct += chosen.label > 0.5f;
      if (spec.name == "record") {
        if (chosen.gold_answers.empty())
          fail("evaluate ReCoRD: query '{}' has no gold answers; evaluate the val split",
               chosen.id);
        f1 += max_token_f1(chosen.answer_text, chosen.gold_answers);
        em += max_exact_match(chosen.answer_text, chosen.gold_answers);
      }
    }
    const auto n = static_cast<double>(groups.size());
    if (spec.name == "record") {
      m["f1"] = f1 / n;
      m["exact_match"] = em / n;
    } else {
      m["accuracy"] = correct / n;
    }
  } else {
    const std::vector<int64_t> pred = predictions(outputs), gold = label_ids(examples);
    if (spec.kind == TaskKind::kGrouped) {  // MultiRC
      m["f1a"] = binary_f1(pred, gold, 1);
      const auto groups = group_examples(examples);
      double all_right = 0;
      for (const auto& group : groups) {
        bool ok = true;
        for (const size_t i : group) ok = ok && pred[i] == gold[i];
        all_right += ok;
      }
      m["exact_match"] = all_right / static_cast<double>(groups.size());
    } else {
      for (const std::string& name : spec.metrics) {
        if (name == "accuracy")
          m[name] = accuracy(pred, gold);
        else if (name == "f1")
          m[name] = binary_f1(pred, gold, 1);
        else if (name == "mcc")
          m[name] = matthews_corrcoef(pred, gold);
        else if (name == "macro_f1")
          m[name] = macro_f1(pred, gold, spec.num_outputs());
        else
          fail("evaluate {}: metric '{}' is not a classification metric", spec.display_name, name);
      }
    }
  }
  return m;
}

double task_score(const TaskSpec& spec, const TaskMetrics& metrics) {
  if (spec.score_metrics.empty())
    fail("task {} has no benchmark score (it is not part of the average)", spec.display_name);
  double sum = 0;
  for (const std::string& name : spec.score_metrics) {
    const auto it = metrics.find(name);
    if (it == metrics.end())
      fail("{} results lack metric '{}' (the score averages {}); pass evaluate()'s output",
           spec.display_name, name, fmt::join(spec.score_metrics, ", "));
    sum += it->second;
  }
  return sum / static_cast<double>(spec.score_metrics.size());
}

double glue_average(const std::map<std::string, TaskMetrics>& results) {
  return benchmark_average(Benchmark::kGlue, results);
}

double superglue_average(const std::map<std::string, TaskMetrics>& results) {
  return benchmark_average(Benchmark::kSuperGlue, results);
}

}  // namespace smx::tasks
