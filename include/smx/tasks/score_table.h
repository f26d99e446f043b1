// The paper's result tables (Table 6: GLUE, Table 7: SuperGLUE): one row per model, one column per
// task, then the benchmark average. Cells are percentages with one decimal; a task with two
// reported metrics shows both, "a / b" in spec.metrics order (MRPC, QQP: F1 / accuracy; CB:
// accuracy / macro-F1; MultiRC: F1a / EM; ReCoRD: F1 / EM; CoLA: MCC / accuracy, where the paper's
// column is accuracy, docs/design.md §3), MNLI shows matched / mismatched accuracy. A task without
// results is "-". The average is glue_average / superglue_average over the tasks present (WNLI and
// AX never count).
#pragma once

#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "smx/tasks/task_evaluation.h"
#include "smx/tasks/task_registry.h"

namespace smx::tasks {

// Column titles of a benchmark's table, in the paper's order:
//   GLUE:      MNLI QQP QNLI SST-2 CoLA STS-B MRPC RTE
//   SuperGLUE: BoolQ CB COPA MultiRC ReCoRD RTE WiC
std::vector<std::string> table_columns(Benchmark benchmark);

// The table as Markdown: header, separator and one row "model | cells... | avg". `results` maps
// task name -> metrics (any names find_task accepts); tasks of the other benchmark are ignored.
std::string format_score_table(Benchmark benchmark, const std::string& model_name,
                               const std::map<std::string, TaskMetrics>& results);

// Both benchmarks' averages and every task's metrics and score, e.g.
//   {"model": "...", "tasks": {"cola": {"metrics": {...}, "score": 0.41}, ...},
//    "glue_average": 0.63, "superglue_average": null}
nlohmann::json score_table_json(const std::string& model_name,
                                const std::map<std::string, TaskMetrics>& results);

}  // namespace smx::tasks
