// smx glue: fine-tune and evaluate every GLUE/SuperGLUE task present, print the paper's tables.
#include <fmt/format.h>

#include "commands.h"
#include "dist_options.h"
#include "finetune_options.h"
#include "signals.h"
#include "smx/dist/training_session.h"
#include "smx/finetune/benchmark_runner.h"

namespace smx::cli {

void register_glue_command(CLI::App& app) {
  auto o = std::make_shared<finetune::BenchmarkOptions>();
  o->out_dir = "glue-results";
  CLI::App* cmd = app.add_subcommand(
      "glue", "Fine-tune + evaluate all GLUE/SuperGLUE tasks present; Tables 6/7 of the paper");
  cmd->add_option("--data,-d", o->data_dirs,
                  "Benchmark roots, e.g. --data data/glue data/superglue (repeatable)")
      ->required();
  cmd->add_option("--tasks", o->tasks, "Only these tasks: --tasks rte,cola,copa")->delimiter(',');
  cmd->add_option("--out,-o", o->out_dir, "Folder: <task>/ model folders, results.json, results.md")
      ->capture_default_str();
  cmd->add_option("--name", o->model_name, "Row label of the tables (default: the config name)");
  add_finetune_options(cmd, o->finetune);
  cmd->callback([o] {
    const auto result = run_as_rank(
        o->finetune.dist, [&] { return finetune::run_benchmarks(*o, &stop_requested()); });
    if (!result) return;
    const finetune::BenchmarkResult& r = *result;
    for (const auto& why : r.skipped) fmt::print("skipped {}\n", why);
    if (!r.glue_table.empty()) fmt::print("\nGLUE dev (Table 6 layout)\n{}", r.glue_table);
    if (!r.superglue_table.empty())
      fmt::print("\nSuperGLUE dev (Table 7 layout)\n{}", r.superglue_table);
    fmt::print("\nwritten: {0}/results.json, {0}/results.md\n", o->out_dir);
  });
}

}  // namespace smx::cli
