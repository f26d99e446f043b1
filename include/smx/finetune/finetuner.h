// Fine-tuning on a GLUE / SuperGLUE task (docs/design.md §3, §5): encoder weights from a
// pre-training run, a fresh classifier with the task's outputs, AdamW with linear warmup and decay,
// the plain mean task loss plus the MoE losses, dev evaluation during and after training, and a
// sweep over learning rates x batch sizes that keeps the point with the best dev score
// (tasks::task_score).
//
// Output folder (written by rank 0 alone in a multi-process job):
//   DIR/config.json, DIR/model.safetensors, DIR/task.json   the best point (see task_model.h)
//   DIR/sweep/<lr>-<batch>/metrics.jsonl                     every point's training and dev records
//   DIR/sweep/<lr>-<batch>/result.json                       its dev metrics and score
//   DIR/sweep.json                                           all points, best first marked
//
// Multi-process (docs/distributed.md): each --batch value b is per rank; every rank cuts the same
// training order with the global batch W·b and keeps rows [r·b, (r+1)·b) of each batch, so W ranks
// train like one process with batch W·b. <batch> in folder names and task.json is W·b.
#pragma once

#include <atomic>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "smx/dist/dist_options.h"
#include "smx/tasks/task_evaluation.h"
#include "smx/tasks/task_registry.h"

namespace smx::finetune {

struct FinetuneOptions {
  std::string task;                    // any name tasks::find_task accepts
  std::string data_dir;                // benchmark root (or the task's own folder)
  std::string init;                    // pre-training run folder or .safetensors (task_model.h)
  std::string out_dir;                 // must not hold a fine-tuned model already
  std::string tokenizer;               // "" = the one the init config records
  std::vector<std::string> overrides;  // config "key=value" (non-architecture keys)
  int64_t epochs = 5;
  std::vector<double> learning_rates = {1e-5};
  std::vector<int64_t> batch_sizes = {64};  // per rank and micro-batch
  int64_t grad_accum = 1;  // micro-batches per optimizer step (global batch: ranks x batch x this)
  double clip_norm = 0;    // clip the global gradient norm to this (0: no clipping)
  double warmup_fraction = 0.1;  // share of the steps spent warming up
  double expert_dropout = 0.2;   // docs/design.md §2.6: 0.2 in fine-tuning
  double weight_decay = 0.01;
  int64_t max_seq_len = 0;  // 0 = the model's max_seq_len
  int64_t eval_every = 0;   // 0 = docs/design.md §5: ceil(0.1·steps/10)·10; -1 = only at the end
  int64_t eval_batch = 64;
  int64_t log_every = 10;
  int threads = 0;  // 0 = every core
  bool bf16 = false;
  uint64_t seed = 0;  // classifier init, data order, dropout
  std::string device = "cpu";
  bool quiet = false;      // no progress lines (tests)
  dist::DistOptions dist;  // multi-process training; --shard must be "examples"
};

struct SweepPoint {
  double learning_rate = 0;
  int64_t batch_size = 0;  // the global batch: ranks x the per-rank --batch x --grad-accum
  int64_t ranks = 1;
  int64_t steps = 0;
  tasks::TaskMetrics dev;  // at the end of training
  double dev_score = 0;
  double seconds = 0;
  std::string dir;  // DIR/sweep/<lr>-<batch>
};

struct FinetuneResult {
  std::string task;  // canonical name
  std::vector<SweepPoint> points;
  size_t best = 0;              // index into points
  tasks::TaskMetrics baseline;  // majority class on dev (tasks/baseline.h)
  double baseline_score = 0;
  int64_t train_examples = 0, dev_examples = 0;
  nlohmann::json task_info;  // what DIR/task.json holds
};

// Runs every (lr, batch) point. Everything that can be wrong (task name, files, columns, labels,
// empty splits, tokenizer vocabulary, init weights and their architecture, options) fails with an
// smx::Error before the first step. `stop` (SIGINT/SIGTERM) ends the run with an error; the best
// model finished so far stays in DIR.
FinetuneResult finetune(const FinetuneOptions& options, const std::atomic<bool>* stop = nullptr);

// "1e-05-64": the sweep folder name of a point.
std::string sweep_point_name(double learning_rate, int64_t batch_size);

}  // namespace smx::finetune
