// smx finetune: fine-tune a pre-trained encoder on one GLUE/SuperGLUE task, optionally sweeping
// learning rates x batch sizes and keeping the best point on dev.
#include <fmt/format.h>

#include "commands.h"
#include "dist_options.h"
#include "finetune_options.h"
#include "signals.h"
#include "smx/dist/training_session.h"
#include "smx/finetune/finetuner.h"
#include "smx/tasks/task_registry.h"
#include "task_output.h"

namespace smx::cli {

void register_finetune_command(CLI::App& app) {
  auto o = std::make_shared<finetune::FinetuneOptions>();
  CLI::App* cmd = app.add_subcommand(
      "finetune",
      "Fine-tune on a GLUE/SuperGLUE task (docs/design.md §3, §5); sweeps with --lr/--batch lists");
  cmd->add_option("--task", o->task, "Task name (cola, sst-2, mrpc, sts-b, rte, copa, cb, ...)")
      ->required();
  cmd->add_option("--data,-d", o->data_dir,
                  "Benchmark root holding the task folder (e.g. data/glue), or the task folder")
      ->required();
  cmd->add_option("--out,-o", o->out_dir,
                  "Model folder: config.json, model.safetensors, task.json, sweep/<lr>-<batch>/")
      ->required();
  add_finetune_options(cmd, *o);
  cmd->callback([o] {
    const auto result =
        run_as_rank(o->dist, [&] { return finetune::finetune(*o, &stop_requested()); });
    if (!result) return;
    const finetune::FinetuneResult& r = *result;
    const tasks::TaskSpec& spec = tasks::find_task(r.task);
    if (r.points.size() > 1) {
      fmt::print("sweep ({} points, dev score):\n", r.points.size());
      for (size_t i = 0; i < r.points.size(); ++i)
        fmt::print("  lr {:<8g} batch {:<4} {:.4f}{}\n", r.points[i].learning_rate,
                   r.points[i].batch_size, r.points[i].dev_score, i == r.best ? "  <- best" : "");
    }
    const auto& best = r.points[r.best];
    fmt::print("{} dev ({} inputs; trained on {} inputs, {} steps, lr {:g}, batch {}, {:.0f}s):\n",
               spec.display_name, r.dev_examples, r.train_examples, best.steps, best.learning_rate,
               best.batch_size, best.seconds);
    fmt::print("  model:                   {} (score {:.4f})\n", format_metrics(spec, best.dev),
               best.dev_score);
    fmt::print("  majority-class baseline: {} (score {:.4f})\n", format_metrics(spec, r.baseline),
               r.baseline_score);
    fmt::print("saved: {}\n", o->out_dir);
  });
}

}  // namespace smx::cli
