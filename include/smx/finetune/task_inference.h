// Running a fine-tuned model folder on a task split: what `smx evaluate` and `smx predict` share.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "smx/dist/process_group.h"
#include "smx/finetune/task_model.h"
#include "smx/tasks/task_evaluation.h"
#include "smx/tasks/task_example.h"
#include "smx/tasks/task_registry.h"

namespace smx::finetune {

struct InferenceOptions {
  int64_t batch = 64;
  int threads = 0;
  bool bf16 = false;
  std::string device = "cpu";
  std::string tokenizer;  // "" = the one the model's config records
  // Splits the batches across this group's ranks, each getting every output (collective; see
  // distributed_prediction.h). Null: this process runs every batch.
  std::shared_ptr<dist::ProcessGroup> group;
};

struct SplitOutputs {
  std::vector<tasks::TaskExample> examples;
  std::vector<std::vector<float>> outputs;  // one row per example
};

// Fails unless a model fine-tuned on task.json's task can answer `spec`: the same kind, number of
// outputs and labels (so an MNLI-m model runs on MNLI-mm, a GLUE RTE model on SuperGLUE RTE).
void check_model_fits_task(const FinetunedModel& model, const tasks::TaskSpec& spec,
                           const std::string& model_dir);

// Reads the split, checks the model against the task and tokenizer, and runs the model on it
// (inputs truncated at task.json's max_seq_len).
SplitOutputs run_on_split(const FinetunedModel& model, const std::string& model_dir,
                          const tasks::TaskSpec& spec, const std::string& data_dir,
                          tasks::Split split, const InferenceOptions& options);

}  // namespace smx::finetune
