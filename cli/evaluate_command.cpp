// smx evaluate: a fine-tuned model's metrics on a labelled split (dev by default).
// smx predict:  its test-set predictions in the GLUE/SuperGLUE leaderboard format.
#include <fmt/format.h>

#include "commands.h"
#include "smx/core/error.h"
#include "smx/finetune/task_inference.h"
#include "smx/io/output_file.h"
#include "smx/tasks/submission.h"
#include "task_output.h"

namespace smx::cli {
namespace {

struct Options {
  std::string task, data, model, split, out;
  finetune::InferenceOptions inference;
};

void add_common(CLI::App* cmd, Options& o) {
  cmd->add_option("--task", o.task, "Task name (cola, rte, copa, ...)")->required();
  cmd->add_option("--data,-d", o.data, "Benchmark root holding the task folder, or the task folder")
      ->required();
  cmd->add_option("--model,-m", o.model, "Fine-tuned model folder (smx finetune --out)")
      ->required();
  cmd->add_option("--batch", o.inference.batch, "Examples per batch")->capture_default_str();
  cmd->add_option("--threads", o.inference.threads, "Intra-op threads (0: every core)")
      ->capture_default_str();
  cmd->add_flag("--bf16", o.inference.bf16, "bf16 autocast");
  cmd->add_option("--device", o.inference.device, "cpu, cuda, ...")->capture_default_str();
  cmd->add_option("--tokenizer,-t", o.inference.tokenizer,
                  "SentencePiece model (default: the one the model's config records)");
}

}  // namespace

void register_evaluate_command(CLI::App& app) {
  auto o = std::make_shared<Options>();
  o->split = "dev";
  CLI::App* cmd =
      app.add_subcommand("evaluate", "A fine-tuned model's metrics on a labelled split");
  add_common(cmd, *o);
  cmd->add_option("--split", o->split, "dev or train")->capture_default_str();
  cmd->callback([o] {
    const tasks::TaskSpec& spec = tasks::find_task(o->task);
    const tasks::Split split = tasks::parse_split(o->split);
    if (split == tasks::Split::kTest)
      fail("evaluate: the test split has no labels; use `smx predict` for leaderboard files");
    const auto model = finetune::load_finetuned(o->model);
    const auto r = finetune::run_on_split(model, o->model, spec, o->data, split, o->inference);
    const auto metrics = tasks::evaluate(spec, r.examples, r.outputs);
    fmt::print("{} {} ({}): {}\n", spec.display_name, tasks::split_name(split),
               describe_count(spec, r.examples), format_metrics(spec, metrics));
    fmt::print("score {:.4f} ({})\n", tasks::task_score(spec, metrics),
               fmt::join(spec.score_metrics, " + "));
  });
}

void register_predict_command(CLI::App& app) {
  auto o = std::make_shared<Options>();
  o->split = "test";
  CLI::App* cmd = app.add_subcommand(
      "predict", "Test-set predictions of a fine-tuned model in the leaderboard format");
  add_common(cmd, *o);
  cmd->add_option("--out,-o", o->out, "Submission file (e.g. RTE.tsv, COPA.jsonl)")->required();
  cmd->add_option("--split", o->split, "test, dev or train")->capture_default_str();
  cmd->callback([o] {
    io::check_output_is_not_input(o->out, {o->data}, "--out");
    const tasks::TaskSpec& spec = tasks::find_task(o->task);
    const auto model = finetune::load_finetuned(o->model);
    const auto r = finetune::run_on_split(model, o->model, spec, o->data,
                                          tasks::parse_split(o->split), o->inference);
    tasks::write_submission(spec, r.examples, r.outputs, o->out);
    fmt::print("{}: predictions of {} {} ({}; leaderboard file name {})\n", o->out,
               spec.display_name, o->split, describe_count(spec, r.examples), spec.submission_file);
  });
}

}  // namespace smx::cli
