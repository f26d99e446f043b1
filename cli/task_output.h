// How the task commands print metrics: "mcc 0.4123, accuracy 0.7910" in the task's metric order.
#pragma once

#include <string>

#include <fmt/format.h>

#include "smx/tasks/task_evaluation.h"
#include "smx/tasks/task_example.h"
#include "smx/tasks/task_registry.h"

namespace smx::cli {

inline std::string format_metrics(const tasks::TaskSpec& spec, const tasks::TaskMetrics& m) {
  std::string text;
  for (const auto& name : spec.metrics) {
    const auto it = m.find(name);
    if (it == m.end()) continue;
    text += fmt::format("{}{} {:.4f}", text.empty() ? "" : ", ", name, it->second);
  }
  return text;
}

// "277 examples", or "100 questions, 200 inputs" for tasks expanded per candidate / answer (COPA,
// ReCoRD, MultiRC).
inline std::string describe_count(const tasks::TaskSpec& spec,
                                  const std::vector<tasks::TaskExample>& examples) {
  if (spec.kind == tasks::TaskKind::kRanking || spec.kind == tasks::TaskKind::kGrouped)
    return fmt::format("{} questions, {} inputs", tasks::group_examples(examples).size(),
                       examples.size());
  return fmt::format("{} examples", examples.size());
}

}  // namespace smx::cli
