// read_split: a task's train/dev/test file -> TaskExamples, every problem (missing file, column or
// field, bad label, empty split) an smx::Error naming file, line and field before anything trains.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "smx/tasks/task_example.h"
#include "smx/tasks/task_registry.h"

namespace smx::tasks {

struct ReadStats {
  int64_t rows = 0;          // data rows (TSV lines after the header, JSONL records) read
  int64_t skipped_rows = 0;  // broken rows dropped (QQP only, see TaskSpec::skip_short_rows)
};

// Path of a split: <data_dir>/<spec.dir>/<file>, where data_dir is the benchmark root (the folder
// holding CoLA/, SST-2/, ... or BoolQ/, CB/, ...). If that does not exist but <data_dir>/<file>
// does, data_dir is taken to be the task folder itself. Fails when the task has no such split.
std::string split_path(const TaskSpec& spec, const std::string& data_dir, Split split);

// Reads one split (GLUE TSV or SuperGLUE JSONL by spec.benchmark). Test splits come back with
// has_label = false. An empty result is an error.
std::vector<TaskExample> read_split(const TaskSpec& spec, const std::string& data_dir, Split split,
                                    ReadStats* stats = nullptr);

}  // namespace smx::tasks
