// smx pretrain: MLM + NSP pre-training with checkpoints that survive a kill.
#include <chrono>
#include <functional>

#include <fmt/format.h>

#include "commands.h"
#include "dist_options.h"
#include "model_options.h"
#include "signals.h"
#include "smx/core/error.h"
#include "smx/core/json.h"
#include "smx/data/corpus_files.h"
#include "smx/data/pretraining_data.h"
#include "smx/dist/training_session.h"
#include "smx/io/text_file.h"
#include "smx/tokenizer/tokenizer.h"
#include "smx/train/pretrainer.h"

namespace smx::cli {
namespace {

// --data-only: the input pipeline alone, as the training run would drive it, for --steps batches;
// prints the tokens/s it sustains (a benchmark: docs/pretraining.md).
void run_data_only(const ModelConfig& config, const train::PretrainOptions& o) {
  using Clock = std::chrono::steady_clock;
  const std::string tokenizer = !o.tokenizer.empty() ? o.tokenizer : config.tokenizer;
  if (tokenizer.empty()) fail("pretrain --data-only: pass --tokenizer");
  auto tok = std::make_shared<const Tokenizer>(Tokenizer::load(tokenizer));
  PretrainingOptions s;
  s.max_seq_len = config.max_seq_len;
  s.batch_size = o.batch_size;
  s.padding = config.padding == Padding::kMasked ? PaddingMode::masked : PaddingMode::reference;
  s.seed = o.seed;
  s.eval_fraction = o.eval_fraction;
  s.split_seed = o.seed;
  s.corpus = o.corpus;
  PretrainingStream stream(tok, o.data_files, s);
  const auto start = Clock::now();
  auto window_start = start;
  uint64_t tokens = 0, window_tokens = 0;
  for (int64_t b = 1; b <= o.steps; ++b) {
    const auto batch = stream.next_batch();
    tokens += static_cast<uint64_t>(batch->real_tokens);
    window_tokens += static_cast<uint64_t>(batch->real_tokens);
    if (b % std::max<int64_t>(1, o.log_every) == 0) {
      const double seconds = std::chrono::duration<double>(Clock::now() - window_start).count();
      fmt::print(stderr, "batch {}/{}: {:.0f} tokens/s\n", b, o.steps,
                 static_cast<double>(window_tokens) / std::max(1e-9, seconds));
      window_tokens = 0;
      window_start = Clock::now();
    }
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  fmt::print(
      "data only: {} batches of {} x {} tokens, {} real tokens in {:.2f} s: {:.0f} tokens/s with "
      "{} data worker(s); {} bad record(s) skipped\n",
      o.steps, o.batch_size, config.max_seq_len, tokens, seconds,
      static_cast<double>(tokens) / std::max(1e-9, seconds), o.corpus.workers,
      stream.stats().bad_records);
}

}  // namespace

void register_pretrain_command(CLI::App& app) {
  struct Options {
    ModelOptions model;
    train::PretrainOptions train;
    std::string out, resume;
    std::string data_format = "auto";
    bool data_only = false;
    // flag -> copies that option from the command line over a resumed run's saved options
    std::vector<std::pair<std::string, std::function<void(train::PretrainOptions&)>>> given;
  };
  auto o = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand("pretrain", "Pre-train with MLM + NSP (docs/design.md §4-5)");
  auto option = [&](const std::string& flag, auto member, const std::string& help) {
    auto* opt = cmd->add_option(flag, o->train.*member, help)->capture_default_str();
    o->given.emplace_back(opt->get_name(), [o, member](train::PretrainOptions& dst) {
      dst.*member = o->train.*member;
    });
  };
  using P = train::PretrainOptions;
  cmd->add_option("--config,-c", o->model.config, "Preset name or JSON file (not with --resume)");
  cmd->add_option("--set", o->model.overrides, "Override a config key: --set key=value");
  cmd->add_option("--out,-o", o->out, "Run folder: config, options, metrics.jsonl, checkpoints/");
  cmd->add_option("--resume", o->resume,
                  "Continue this run folder from its newest checkpoint, with its saved options "
                  "(flags given now override them)");
  option("--data,-d", &P::data_files,
         "Corpus shards: text (blank line between documents) or JSON Lines, plain, .gz or .zst; "
         "globs and @LIST files accepted");
  option("--tokenizer,-t", &P::tokenizer, "SentencePiece model (smx tokenizer train)");
  option("--device", &P::device, "cpu, cuda, cuda:1, ...");
  option("--steps", &P::steps, "Optimizer steps (the schedule's length)");
  option("--batch", &P::batch_size, "Examples per micro-batch");
  option("--grad-accum", &P::grad_accum, "Micro-batches per optimizer step");
  option("--lr", &P::learning_rate, "Peak learning rate");
  option("--warmup", &P::warmup_steps, "Warmup steps (-1: 10% of --steps, at most 10,000)");
  option("--weight-decay", &P::weight_decay, "AdamW decoupled weight decay");
  option("--clip-norm", &P::clip_norm, "Global gradient-norm clip (0: off)");
  option("--max-time", &P::max_time_s,
         "Stop with a checkpoint after this many seconds (0: no limit)");
  option("--stop-after", &P::stop_after,
         "Stop with a checkpoint after this many steps (0: no limit)");
  option("--log-every", &P::log_every, "Steps per log line / metrics record");
  option("--eval-every", &P::eval_every, "Steps between held-out evaluations (0: only at the end)");
  option("--eval-batches", &P::eval_batches, "Held-out batches per evaluation");
  option("--eval-fraction", &P::eval_fraction, "Share of documents held out");
  option("--checkpoint-every", &P::checkpoint_every,
         "Steps between checkpoints (0: end and signals)");
  option("--keep", &P::keep_checkpoints, "Checkpoints kept");
  option("--seed", &P::seed, "Seed of weights, data order, masking and dropout");
  option("--threads", &P::threads, "Intra-op threads (0: every core)");
  auto* bf16 =
      cmd->add_flag("--bf16", o->train.bf16, "bf16 autocast (router and losses stay fp32)");
  o->given.emplace_back(bf16->get_name(), [o](P& dst) { dst.bf16 = o->train.bf16; });
  auto corpus_option = [&](CLI::Option* opt, std::function<void(P&)> copy) {
    o->given.emplace_back(opt->get_name(), std::move(copy));
  };
  corpus_option(cmd->add_option("--data-format", o->data_format,
                                "auto (by name: *.jsonl, *.json, *.ndjson, also .gz/.zst, are JSON "
                                "Lines), text or jsonl")
                    ->capture_default_str(),
                [o](P& dst) { dst.corpus.format = parse_corpus_format(o->data_format); });
  corpus_option(cmd->add_option("--text-field", o->train.corpus.text_field,
                                "JSON Lines: the string field that holds a document's text")
                    ->capture_default_str(),
                [o](P& dst) { dst.corpus.text_field = o->train.corpus.text_field; });
  corpus_option(cmd->add_option("--data-workers", o->train.corpus.workers,
                                "Threads that tokenize documents (0: on the batching thread); the "
                                "batches do not depend on it")
                    ->capture_default_str(),
                [o](P& dst) { dst.corpus.workers = o->train.corpus.workers; });
  corpus_option(cmd->add_flag("--skip-bad-records", o->train.corpus.skip_bad_records,
                              "Count and skip bad corpus records instead of stopping"),
                [o](P& dst) { dst.corpus.skip_bad_records = o->train.corpus.skip_bad_records; });
  cmd->add_flag("--data-only", o->data_only,
                "Benchmark: run only the input pipeline for --steps batches and print its "
                "tokens/s (no model, no --out)");
  add_dist_options(*cmd, o->train.dist, [o](const std::string& name, auto copy) {
    o->given.emplace_back(name, [copy](P& dst) { copy(dst.dist); });
  });

  cmd->callback([o, cmd] {
    train::PretrainOptions options = o->train;
    options.corpus.format = parse_corpus_format(o->data_format);
    ModelConfig config;
    if (o->data_only) {
      if (o->model.config.empty()) fail("pretrain --data-only: --config is required");
      if (options.data_files.empty()) fail("pretrain --data-only: --data is required");
      options.data_files = expand_corpus_files(options.data_files);
      run_data_only(o->model.load(), options);
      return;
    }
    if (!o->resume.empty()) {
      if (!o->out.empty()) fail("pass either --out (new run) or --resume (existing run), not both");
      options = train::pretrain_options_from_json(
          parse_json(io::read_text_file(o->resume + "/options.json"), o->resume + "/options.json"),
          o->resume + "/options.json");
      for (const auto& [flag, copy] : o->given)
        if (cmd->count(flag) > 0) copy(options);
      options.out_dir = o->resume;
      options.resume = true;
      // The run's own config; a --config given now must match it (checked when loading weights).
      config = o->model.config.empty()
                   ? load_model_config(o->resume + "/config.json", o->model.overrides)
                   : o->model.load();
    } else {
      if (o->model.config.empty()) fail("pretrain: --config is required for a new run");
      if (o->out.empty()) fail("pretrain: --out is required for a new run");
      if (options.data_files.empty()) fail("pretrain: --data is required");
      options.out_dir = o->out;
      config = o->model.load();
    }
    // The run records the shards themselves, so a glob matching more files later cannot change it.
    options.data_files = expand_corpus_files(options.data_files);
    const auto ran = run_as_rank(
        options.dist, [&] { return train::pretrain(config, options, &stop_requested()); });
    if (!ran) return;
    const train::PretrainResult& result = *ran;
    fmt::print(
        "{} steps {}..{}: held-out loss {:.4f}, MLM accuracy {:.4f}, NSP accuracy {:.4f}{}\n",
        config.name, result.first_step, result.last_step, result.final_eval.loss,
        result.final_eval.mlm_accuracy, result.final_eval.nsp_accuracy,
        result.interrupted ? " (stopped early; continue with --resume)" : "");
  });
}

}  // namespace smx::cli
