// The majority-class baseline of a task: a constant predictor fitted on the training split, scored
// with the task's own metrics (what a model that learned nothing but the label prior gets).
#pragma once

#include <vector>

#include "smx/tasks/task_evaluation.h"
#include "smx/tasks/task_example.h"
#include "smx/tasks/task_registry.h"

namespace smx::tasks {

// Model-shaped outputs of the baseline for `examples` (one row per example, as evaluate() takes):
//   classification, MultiRC: the most frequent training label (ties: the lowest id);
//   regression:              the mean training target;
//   ranking (COPA, ReCoRD):  the candidate at the position within its group that is most often
//                            correct in training (ties: the first position).
std::vector<std::vector<float>> majority_baseline_outputs(const TaskSpec& spec,
                                                          const std::vector<TaskExample>& train,
                                                          const std::vector<TaskExample>& examples);

// evaluate() of those outputs on `examples` (which must be labelled).
TaskMetrics majority_baseline(const TaskSpec& spec, const std::vector<TaskExample>& train,
                              const std::vector<TaskExample>& examples);

}  // namespace smx::tasks
