// Leaderboard submission files from test-split predictions (the formats jiant writes with
// strict_glue_format). Name the file spec.submission_file (e.g. "MNLI-m.tsv", "BoolQ.jsonl").
//   GLUE:      TSV "index\tprediction" header, then one row per example: the label string of the
//              argmax ("entailment", "1", ...); STS-B the score clipped to [0, 5], 3 decimals.
//   SuperGLUE: JSONL, one object per line:
//              BoolQ, WiC: {"idx": n, "label": "true"|"false"}; CB, RTE: {"idx": n, "label":
//              "<label>"} COPA:    {"idx": n, "label": k}, k = index of the higher-scored choice (0
//              or 1) ReCoRD:  {"idx": <query idx>, "label": "<text of the best candidate>"}
//              MultiRC: {"idx": <passage>, "passage": {"questions": [{"idx": <question>,
//                        "answers": [{"idx": <answer>, "label": 0|1}, ...]}, ...]}}
// Integer ids are written as JSON numbers, others as strings.
#pragma once

#include <string>
#include <vector>

#include "smx/tasks/task_example.h"
#include "smx/tasks/task_registry.h"

namespace smx::tasks {

// The file's contents. `outputs[i]` is the model output of examples[i] (as for evaluate()).
std::string format_submission(const TaskSpec& spec, const std::vector<TaskExample>& examples,
                              const std::vector<std::vector<float>>& outputs);

// Writes format_submission(...) to `path`.
void write_submission(const TaskSpec& spec, const std::vector<TaskExample>& examples,
                      const std::vector<std::vector<float>>& outputs, const std::string& path);

}  // namespace smx::tasks
