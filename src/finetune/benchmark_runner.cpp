#include "smx/finetune/benchmark_runner.h"

#include <filesystem>
#include <optional>

#include <fmt/format.h>

#include "smx/core/error.h"
#include "smx/dist/training_session.h"
#include "smx/finetune/task_inference.h"
#include "smx/finetune/task_model.h"
#include "smx/io/text_file.h"
#include "smx/tasks/score_table.h"
#include "smx/tasks/task_reader.h"

namespace smx::finetune {
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

// The first data dir holding the task's train and dev files.
std::optional<std::string> find_data_dir(const tasks::TaskSpec& spec,
                                         const std::vector<std::string>& dirs) {
  for (const auto& dir : dirs) {
    try {
      tasks::split_path(spec, dir, tasks::Split::kTrain);
      tasks::split_path(spec, dir, tasks::Split::kDev);
      return dir;
    } catch (const Error&) {
    }
  }
  return std::nullopt;
}

}  // namespace

BenchmarkResult run_benchmarks(const BenchmarkOptions& o, const std::atomic<bool>* stop) {
  if (o.data_dirs.empty()) fail("glue: pass at least one --data folder");
  if (o.out_dir.empty()) fail("glue: --out is required");
  BenchmarkResult result;
  // In a multi-process job every rank runs every task (finetune() is collective) and rank 0
  // alone prints and writes.
  const dist::TrainingSession job(o.finetune.dist);
  const bool primary = job.primary();

  // ---- which tasks, and where their files are (all checked before anything trains) ----
  std::vector<std::pair<const tasks::TaskSpec*, std::string>> plan;  // (task, data dir)
  const std::string dirs = fmt::format("{}", fmt::join(o.data_dirs, ", "));
  if (!o.tasks.empty()) {
    for (const auto& name : o.tasks) {
      const tasks::TaskSpec& spec = tasks::find_task(name);
      if (spec.file(tasks::Split::kTrain).empty())
        fail("glue: task {} has no training split (it is test-only)", spec.display_name);
      const auto dir = find_data_dir(spec, o.data_dirs);
      if (!dir)
        fail("glue: task {} needs {}/{} and {}/{} under one of: {}", spec.display_name, spec.dir,
             spec.file(tasks::Split::kTrain), spec.dir, spec.file(tasks::Split::kDev), dirs);
      bool seen = false;
      for (const auto& [planned, unused] : plan) seen = seen || planned == &spec;
      if (!seen) plan.emplace_back(&spec, *dir);
    }
  } else {
    for (const auto& spec : tasks::all_tasks()) {
      if (spec.file(tasks::Split::kTrain).empty() || spec.name == "wnli") continue;
      if (const auto dir = find_data_dir(spec, o.data_dirs))
        plan.emplace_back(&spec, *dir);
      else
        result.skipped.push_back(fmt::format("{}: no {}/{} with {} under {}", spec.display_name,
                                             spec.dir, spec.file(tasks::Split::kTrain),
                                             spec.file(tasks::Split::kDev), dirs));
    }
  }
  if (plan.empty()) fail("glue: no task has its train and dev files under {}", dirs);
  // Every split parses (file, line and field errors now, not hours into the run).
  for (const auto& [spec, dir] : plan) {
    tasks::read_split(*spec, dir, tasks::Split::kTrain);
    tasks::read_split(*spec, dir, tasks::Split::kDev);
  }
  std::string model_name = o.model_name;
  if (model_name.empty())
    model_name = resolve_init(o.finetune.init, o.finetune.overrides).config.name;

  // ---- fine-tune each task ----
  std::map<std::string, json> runs;
  std::string mnli_model;
  for (const auto& [spec, dir] : plan) {
    const std::string task_dir = o.out_dir + "/" + spec->name;
    if (spec->name == "mnli-mm" && !mnli_model.empty()) {  // same training set as MNLI-m
      const auto model = load_finetuned(mnli_model);
      InferenceOptions inference;
      inference.batch = o.finetune.eval_batch;
      inference.threads = o.finetune.threads;
      inference.bf16 = o.finetune.bf16;
      inference.device = job.device(at::Device(o.finetune.device)).str();  // cuda:LOCAL_RANK
      inference.tokenizer = o.finetune.tokenizer;
      inference.group = dist::default_group();  // the ranks share the batches, all get the metrics
      const auto r = run_on_split(model, mnli_model, *spec, dir, tasks::Split::kDev, inference);
      result.results[spec->name] = tasks::evaluate(*spec, r.examples, r.outputs);
      runs[spec->name] = {{"model", mnli_model}, {"data", dir}};
      continue;
    }
    if (primary) fmt::print(stderr, "== {} ({}) ==\n", spec->display_name, dir);
    FinetuneOptions f = o.finetune;
    f.task = spec->name;
    f.data_dir = dir;
    f.out_dir = task_dir;
    const FinetuneResult r = finetune(f, stop);
    const SweepPoint& best = r.points[r.best];
    result.results[spec->name] = best.dev;
    runs[spec->name] = {{"model", task_dir},        {"data", dir},
                        {"lr", best.learning_rate}, {"batch", best.batch_size},
                        {"baseline", r.baseline},   {"baseline_score", r.baseline_score}};
    if (spec->name == "mnli-m") mnli_model = task_dir;
  }

  // ---- tables ----
  bool any_glue = false, any_superglue = false;
  for (const auto& [name, metrics] : result.results) {
    const auto benchmark = tasks::find_task(name).benchmark;
    any_glue = any_glue || benchmark == tasks::Benchmark::kGlue;
    any_superglue = any_superglue || benchmark == tasks::Benchmark::kSuperGlue;
  }
  if (any_glue)
    result.glue_table =
        tasks::format_score_table(tasks::Benchmark::kGlue, model_name, result.results);
  if (any_superglue)
    result.superglue_table =
        tasks::format_score_table(tasks::Benchmark::kSuperGlue, model_name, result.results);
  result.json = tasks::score_table_json(model_name, result.results);
  for (const auto& [name, run] : runs) result.json["tasks"][name]["run"] = run;
  result.json["skipped"] = result.skipped;
  if (!primary) return result;
  io::write_file_atomically(o.out_dir + "/results.json", result.json.dump(2) + "\n");
  std::string md;
  if (any_glue) md += "GLUE dev (Table 6 layout)\n\n" + result.glue_table + "\n";
  if (any_superglue) md += "SuperGLUE dev (Table 7 layout)\n\n" + result.superglue_table;
  io::write_file_atomically(o.out_dir + "/results.md", md);
  return result;
}

}  // namespace smx::finetune
