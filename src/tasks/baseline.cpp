#include "smx/tasks/baseline.h"

#include <cmath>
#include <map>

#include "smx/core/error.h"

namespace smx::tasks {
namespace {

// Index of the largest count; the lowest key on ties.
int64_t most_frequent(const std::map<int64_t, int64_t>& counts) {
  int64_t best = 0, best_count = -1;
  for (const auto& [key, count] : counts)
    if (count > best_count) {
      best = key;
      best_count = count;
    }
  return best;
}

}  // namespace

std::vector<std::vector<float>> majority_baseline_outputs(
    const TaskSpec& spec, const std::vector<TaskExample>& train,
    const std::vector<TaskExample>& examples) {
  if (train.empty())
    fail("majority baseline of {}: the training split is empty", spec.display_name);
  std::vector<std::vector<float>> outputs;
  if (spec.kind == TaskKind::kRegression) {
    double sum = 0;
    for (const TaskExample& e : train) sum += e.label;
    const auto mean = static_cast<float>(sum / static_cast<double>(train.size()));
    outputs.assign(examples.size(), {mean});
  } else if (spec.kind == TaskKind::kRanking) {
    std::map<int64_t, int64_t> correct_position;
    for (const auto& group : group_examples(train))
      for (size_t k = 0; k < group.size(); ++k)
        if (train[group[k]].label > 0.5f) ++correct_position[static_cast<int64_t>(k)];
    const int64_t position = most_frequent(correct_position);
    outputs.assign(examples.size(), {0.0f});
    for (const auto& group : group_examples(examples)) {
      const size_t k = std::min(group.size() - 1, static_cast<size_t>(position));
      outputs[group[k]][0] = 1.0f;
    }
  } else {
    std::map<int64_t, int64_t> counts;
    for (const TaskExample& e : train) ++counts[static_cast<int64_t>(std::lround(e.label))];
    std::vector<float> row(static_cast<size_t>(spec.num_outputs()), 0.0f);
    row.at(static_cast<size_t>(most_frequent(counts))) = 1.0f;
    outputs.assign(examples.size(), row);
  }
  return outputs;
}

TaskMetrics majority_baseline(const TaskSpec& spec, const std::vector<TaskExample>& train,
                              const std::vector<TaskExample>& examples) {
  return evaluate(spec, examples, majority_baseline_outputs(spec, train, examples));
}

}  // namespace smx::tasks
