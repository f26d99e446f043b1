#include "smx/tasks/task_reader.h"

#include <filesystem>

#include "smx/core/error.h"
#include "smx/tasks/glue_readers.h"
#include "smx/tasks/superglue_readers.h"

namespace smx::tasks {

std::string split_path(const TaskSpec& spec, const std::string& data_dir, Split split) {
  namespace fs = std::filesystem;
  const std::string& file = spec.file(split);
  if (file.empty())
    fail("task {} has no {} split; its splits are the files listed in the task registry",
         spec.display_name, split_name(split));
  const fs::path in_benchmark = fs::path(data_dir) / spec.dir / file;
  if (fs::exists(in_benchmark)) return in_benchmark.string();
  const fs::path in_task = fs::path(data_dir) / file;
  if (fs::exists(in_task)) return in_task.string();
  fail("{}: file not found ({} {} split); pass the {} root that holds {}/{} (also tried {})",
       in_benchmark.string(), spec.display_name, split_name(split), benchmark_name(spec.benchmark),
       spec.dir, file, in_task.string());
}

std::vector<TaskExample> read_split(const TaskSpec& spec, const std::string& data_dir, Split split,
                                    ReadStats* stats) {
  const std::string path = split_path(spec, data_dir, split);
  ReadStats local;
  std::vector<TaskExample> examples = spec.benchmark == Benchmark::kGlue
                                          ? read_glue_tsv(spec, path, split, &local)
                                          : read_superglue_jsonl(spec, path, split, &local);
  if (examples.empty())
    fail("{}: the {} split of {} has no examples; the file is empty or holds only a header", path,
         split_name(split), spec.display_name);
  if (stats) *stats = local;
  return examples;
}

}  // namespace smx::tasks
