// The GLUE and SuperGLUE fine-tuning tasks of the paper (docs/design.md §3, §4.4): files, labels,
// segment order and metrics per task. Plain C++, no LibTorch.
//
// Canonical names (lookup ignores case, '-', '_' and spaces, and accepts the aliases listed):
//   GLUE:      cola, sst-2, mrpc, qqp, sts-b, mnli-m (alias mnli, mnli-matched),
//              mnli-mm (mnli-mismatched), qnli, rte, wnli, ax (diagnostic; test split only)
//   SuperGLUE: boolq, cb, copa, multirc, record, superglue-rte (rte-superglue, sg-rte), wic
// WSC is not registered: the paper does not evaluate it (docs/design.md §3) and its data is not
// collected.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace smx::tasks {

enum class Benchmark { kGlue, kSuperGlue };

// kClassification: softmax over labels. kRegression: 1 output, MSE (STS-B).
// kRanking: 1 output per candidate, MSE on 0/1, argmax per group at eval (COPA, ReCoRD).
// kGrouped: 2-class per answer, scored per question group (MultiRC).
enum class TaskKind { kClassification, kRegression, kRanking, kGrouped };

enum class Split { kTrain, kDev, kTest };

struct TaskSpec {
  std::string name;          // canonical lower-case name, e.g. "sst-2", "superglue-rte"
  std::string display_name;  // as the benchmark writes it, e.g. "SST-2", "RTE"
  std::vector<std::string> aliases;
  Benchmark benchmark = Benchmark::kGlue;
  TaskKind kind = TaskKind::kClassification;

  // Files live in <data_dir>/<dir>/<file>; an empty file name means the split does not exist.
  std::string dir;
  std::string train_file;
  std::string dev_file;
  std::string test_file;

  // Label strings in id order (classification, grouped, and COPA's choice index "0"/"1").
  // JSON booleans are spelled "false"/"true". Empty for regression and ReCoRD.
  std::vector<std::string> labels;
  // TSV columns / JSON fields of the model inputs, in model order (docs/design.md §4.4). For the
  // expanded SuperGLUE tasks some are derived: COPA "choice", ReCoRD "entity", MultiRC
  // "answer"/"paragraph".
  std::vector<std::string> segment_fields;
  std::string label_field;  // TSV column or JSON field holding the label
  std::string id_field;     // "index"/"id"/"idx"; a TSV without it numbers rows from 0
  // Column names for header-less TSVs (CoLA train/dev); the reader detects the header.
  std::vector<std::string> headerless_columns;
  // Skip TSV rows with too few fields instead of failing (QQP train has a few broken rows; TFDS
  // and HF drop them too). Counted in ReadStats::skipped_rows.
  bool skip_short_rows = false;

  std::vector<std::string> metrics;        // what evaluate() reports, in this order
  std::vector<std::string> score_metrics;  // averaged into the task's benchmark score
  // Tasks with the same non-empty score_group count as one task in the benchmark average
  // (MNLI-m and MNLI-mm).
  std::string score_group;
  bool in_average = true;       // false: never part of glue_average/superglue_average (AX)
  std::string submission_file;  // leaderboard file name, e.g. "SST-2.tsv", "BoolQ.jsonl"

  // classification: #labels; grouped: 2; regression and ranking: 1.
  int64_t num_outputs() const;
  // Id of a label string, or -1 when it is not one of `labels`.
  int64_t label_id(const std::string& label) const;
  // File name of a split ("" when the task has none).
  const std::string& file(Split split) const;
};

// Every registered task, GLUE first, in the order of the header comment.
const std::vector<TaskSpec>& all_tasks();
// Canonical names of all_tasks(), in the same order.
std::vector<std::string> task_names();
// Case-insensitive lookup by name or alias; an unknown name is an smx::Error listing the known
// ones.
const TaskSpec& find_task(const std::string& name);

// "train" | "dev" | "test".
const char* split_name(Split split);
// Accepts "train", "dev"/"val"/"validation", "test".
Split parse_split(const std::string& name);
const char* benchmark_name(Benchmark benchmark);

}  // namespace smx::tasks
