// Task-level evaluation: model outputs of a labelled split -> the task's official metrics, and the
// GLUE / SuperGLUE averages the paper reports. Values are fractions, not percentages.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "smx/tasks/task_example.h"
#include "smx/tasks/task_registry.h"

namespace smx::tasks {

// Metric name -> value. Names: accuracy, f1, mcc, pearson, spearman, macro_f1, f1a, exact_match.
using TaskMetrics = std::map<std::string, double>;

// `outputs[i]` is the model output of examples[i]: spec.num_outputs() values (logits for
// classification and MultiRC, the score for regression and ranking). Produces spec.metrics:
//   classification: argmax; accuracy, binary F1 (class 1), MCC, or CB's accuracy + macro-F1.
//   regression:     Pearson and Spearman of output[0] against the targets.
//   COPA:           accuracy of the argmax candidate per group.
//   ReCoRD:         the argmax candidate's text per query vs the gold answers: max-over-gold token
//                   F1 and exact match (record_normalization.h), averaged over queries.
//   MultiRC:        f1a = binary F1 over all answers; exact_match = fraction of questions whose
//                   answers are all right.
// Every example must have a label (a dev split, not test).
TaskMetrics evaluate(const TaskSpec& spec, const std::vector<TaskExample>& examples,
                     const std::vector<std::vector<float>>& outputs);

// A task's benchmark score: the mean of its spec.score_metrics (CoLA: MCC; MRPC, QQP: (F1+acc)/2;
// STS-B: (Pearson+Spearman)/2; CB: (acc+macro-F1)/2; MultiRC: (F1a+EM)/2; ReCoRD: (F1+EM)/2).
double task_score(const TaskSpec& spec, const TaskMetrics& metrics);

// GLUE average: `results` maps task name (any name find_task accepts) -> evaluate()'s metrics.
// The mean of task_score over the GLUE tasks present, where MNLI-m and MNLI-mm count as one task
// (their mean). Only the tasks present are averaged (the paper leaves WNLI out: leave it out of
// the map); SuperGLUE tasks and AX in the map are ignored; an unknown name, a missing score metric
// or no GLUE task at all is an error.
double glue_average(const std::map<std::string, TaskMetrics>& results);

// The same convention over the SuperGLUE tasks present (superglue-rte, not GLUE's rte).
double superglue_average(const std::map<std::string, TaskMetrics>& results);

}  // namespace smx::tasks
