// Pre-training (docs/design.md §4-5): MLM + NSP on a text corpus, AdamW with warmup and linear
// decay, gradient accumulation, optional clipping and bf16 autocast, held-out evaluation, atomic
// checkpoints every N steps and on SIGINT/SIGTERM, and exact resume.
#pragma once

#include <atomic>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "smx/config/model_config.h"
#include "smx/data/corpus_options.h"
#include "smx/dist/dist_options.h"

namespace smx::train {

struct PretrainOptions {
  std::string out_dir;                  // run folder: config.json, metrics.jsonl, checkpoints/
  std::vector<std::string> data_files;  // corpus shards, text or JSON Lines (data/text_corpus.h)
  CorpusOptions corpus;                 // format, text field, bad records, tokenizer threads
  std::string tokenizer;                // SentencePiece model; "" = the one the config records
  int64_t steps = 10000;                // optimizer steps (the schedule's S)
  int64_t batch_size = 32;              // examples per micro-batch
  int64_t grad_accum = 1;               // micro-batches per optimizer step
  int64_t warmup_steps = -1;            // -1: 10% of steps, at most 10,000
  double learning_rate = 1e-4;
  double weight_decay = 0.01;
  double clip_norm = 0;    // global-norm clipping; 0 = off (the reference)
  double max_time_s = 0;   // stop (with a checkpoint) after this wall time; 0 = no limit
  int64_t stop_after = 0;  // stop (with a checkpoint) after this many steps of this call
  int64_t log_every = 10;
  int64_t eval_every = 500;  // 0 = only at the end
  int64_t eval_batches = 20;
  double eval_fraction = 0.02;     // share of documents held out
  int64_t checkpoint_every = 500;  // 0 = only at the end and on signals
  int64_t keep_checkpoints = 3;
  uint64_t seed = 0;  // weights, data order, masking and dropout
  int threads = 0;    // 0 = every core
  bool bf16 = false;  // bf16 autocast for matmuls; router and losses stay fp32
  std::string device = "cpu";
  bool resume = false;     // continue from out_dir's newest checkpoint
  dist::DistOptions dist;  // multi-process training (docs/distributed.md)
};

// The options of a run are saved as DIR/options.json so that --resume continues with them.
nlohmann::json to_json(const PretrainOptions& options);
PretrainOptions pretrain_options_from_json(const nlohmann::json& j, const std::string& source);

struct EvalResult {
  double loss = 0, mlm_accuracy = 0, nsp_accuracy = 0;
  int64_t examples = 0;
};

struct PretrainResult {
  int64_t first_step = 0, last_step = 0;  // steps this call ran: (first_step, last_step]
  std::vector<double> losses;             // training loss of each step this call ran
  EvalResult final_eval;
  bool interrupted = false;  // stopped by the stop flag (signal) or max_time_s
};

// Runs (or resumes) a pre-training job. `stop` is polled every step; when it becomes true the job
// checkpoints and returns. Bad inputs fail before the first step with smx::Error.
PretrainResult pretrain(ModelConfig config, const PretrainOptions& options,
                        const std::atomic<bool>* stop = nullptr);

}  // namespace smx::train
