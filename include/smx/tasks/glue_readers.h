// GLUE TSV files (download_glue_data.py layout): split on '\t' only (no quote handling: STS-B and
// others contain bare quotes), UTF-8 BOM (MRPC), no header (CoLA train/dev), no final newline and
// CRLF tolerated. Columns are found by header name; test files have no label column.
#pragma once

#include <string>
#include <vector>

#include "smx/tasks/task_example.h"
#include "smx/tasks/task_reader.h"
#include "smx/tasks/task_registry.h"

namespace smx::tasks {

// Reads one GLUE TSV file of `spec`. `split` decides whether labels are read (not for kTest).
std::vector<TaskExample> read_glue_tsv(const TaskSpec& spec, const std::string& path, Split split,
                                       ReadStats* stats = nullptr);

}  // namespace smx::tasks
