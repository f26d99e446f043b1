// `smx glue`: fine-tune and evaluate every GLUE / SuperGLUE task whose files are present, then
// the paper's Tables 6 and 7 (tasks/score_table.h) for the results.
#pragma once

#include <atomic>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "smx/finetune/finetuner.h"
#include "smx/tasks/task_evaluation.h"

namespace smx::finetune {

struct BenchmarkOptions {
  // Benchmark roots (e.g. data/glue and data/superglue); each task uses the first that holds its
  // train and dev files.
  std::vector<std::string> data_dirs;
  // Task names; empty = every registered task with train and dev files in a data dir, except
  // WNLI (the paper does not evaluate it) and the test-only AX. Named tasks must be present.
  std::vector<std::string> tasks;
  std::string out_dir;       // OUT/<task>/ per task, OUT/results.json, OUT/results.md
  std::string model_name;    // the tables' row label ("" = the init config's name)
  FinetuneOptions finetune;  // every knob but task, data_dir and out_dir
};

struct BenchmarkResult {
  std::map<std::string, tasks::TaskMetrics> results;  // canonical task name -> dev metrics
  std::vector<std::string> skipped;                   // why a task did not run
  std::string glue_table, superglue_table;            // "" without tasks of that benchmark
  nlohmann::json json;                                // what OUT/results.json holds
};

// MNLI-mm reuses the MNLI-m model when both run (they share the training set).
BenchmarkResult run_benchmarks(const BenchmarkOptions& options,
                               const std::atomic<bool>* stop = nullptr);

}  // namespace smx::finetune
