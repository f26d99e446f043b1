#include "smx/finetune/finetuner.h"

#include <chrono>
#include <cmath>
#include <filesystem>

#include <fmt/format.h>
#include <torch/torch.h>

#include "smx/core/autocast.h"
#include "smx/core/error.h"
#include "smx/core/threads.h"
#include "smx/dist/training_session.h"
#include "smx/finetune/distributed_prediction.h"
#include "smx/finetune/task_data.h"
#include "smx/finetune/task_loss.h"
#include "smx/finetune/task_model.h"
#include "smx/io/text_file.h"
#include "smx/model_folder/model_folder.h"
#include "smx/tasks/baseline.h"
#include "smx/tasks/task_reader.h"
#include "smx/train/adamw.h"
#include "smx/train/lr_schedule.h"
#include "smx/train/metrics_log.h"
#include "smx/train/training_step.h"

namespace smx::finetune {
namespace fs = std::filesystem;
using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

void check_options(const FinetuneOptions& o) {
  if (o.out_dir.empty()) fail("finetune: --out is required");
  if (o.init.empty()) fail("finetune: --init is required (a pre-training run folder or weights)");
  if (o.data_dir.empty()) fail("finetune: --data is required");
  if (o.epochs < 1) fail("finetune: --epochs must be at least 1 (got {})", o.epochs);
  if (o.learning_rates.empty()) fail("finetune: --lr needs at least one value");
  for (const double lr : o.learning_rates)
    if (!(lr > 0)) fail("finetune: --lr values must be > 0 (got {})", lr);
  if (o.batch_sizes.empty()) fail("finetune: --batch needs at least one value");
  for (const int64_t b : o.batch_sizes)
    if (b < 1) fail("finetune: --batch values must be >= 1 (got {})", b);
  if (!(o.warmup_fraction >= 0 && o.warmup_fraction < 1))
    fail("finetune: --warmup-fraction must be in [0, 1) (got {})", o.warmup_fraction);
  if (!(o.expert_dropout >= 0 && o.expert_dropout < 1))
    fail("finetune: --expert-dropout must be in [0, 1) (got {})", o.expert_dropout);
  if (o.grad_accum < 1) fail("finetune: --grad-accum must be >= 1 (got {})", o.grad_accum);
  if (!(o.clip_norm >= 0)) fail("finetune: --clip-norm must be >= 0 (got {})", o.clip_norm);
  if (o.eval_batch < 1) fail("finetune: --eval-batch must be >= 1");
  if (o.log_every < 1) fail("finetune: --log-every must be >= 1");
  if (o.max_seq_len < 0) fail("finetune: --max-seq-len must be >= 0 (0: the model's)");
  if (o.dist.shard != "examples")
    fail(
        "finetune: --shard {} has no meaning for fine-tuning (task examples are not documents); "
        "drop it: the ranks always split each global batch by examples",
        o.dist.shard);
  o.dist.validate();
}

// docs/design.md §5: every ceil(0.1·steps/10)·10 steps unless --eval-every says otherwise.
int64_t eval_interval(const FinetuneOptions& o, int64_t steps) {
  if (o.eval_every > 0) return o.eval_every;
  if (o.eval_every < 0) return 0;
  return static_cast<int64_t>(std::ceil(0.1 * static_cast<double>(steps) / 10.0)) * 10;
}

// Everything a sweep point needs, prepared (and checked) once.
struct Prepared {
  const tasks::TaskSpec* spec = nullptr;
  ModelConfig config;
  std::string weights;
  int64_t max_len = 0;
  std::vector<tasks::TaskExample> train, dev;
  EncodedExamples train_data, dev_data;
  at::Device device{at::kCPU};
};

json eval_record(const Prepared& p, int64_t step, const tasks::TaskMetrics& m, double elapsed) {
  json r = {{"type", "eval"},
            {"step", step},
            {"score", tasks::task_score(*p.spec, m)},
            {"examples", static_cast<int64_t>(p.dev.size())},
            {"elapsed_s", elapsed}};
  for (const auto& [name, value] : m) r[name] = value;
  return r;
}

struct PointRun {
  SweepPoint point;
  std::shared_ptr<model::SparseMixer> model;
};

// `rank_batch` is one --batch value: examples per rank and step.
PointRun run_point(const Prepared& p, const FinetuneOptions& o, double base_lr, int64_t rank_batch,
                   const std::atomic<bool>* stop) {
  dist::TrainingSession dist(o.dist);  // per point: a new model, so new replicas and buckets
  // A micro-batch is W·b rows; an optimizer step accumulates --grad-accum of them.
  const int64_t ranks = dist.world_size(), micro_size = rank_batch * ranks;
  const int64_t batch_size = micro_size * o.grad_accum;
  PointRun run;
  SweepPoint& point = run.point;
  point.learning_rate = base_lr;
  point.batch_size = batch_size;
  point.ranks = ranks;
  point.dir = o.out_dir + "/sweep/" + sweep_point_name(base_lr, batch_size);
  if (dist.primary()) {
    fs::remove_all(point.dir);
    fs::create_directories(point.dir);
  }

  torch::manual_seed(o.seed);  // dropout (rank 0's stream; prepare_model seeds the others')
  auto model = load_encoder_weights(p.config, p.weights, p.spec->num_outputs(), o.seed);
  model->to(p.device);
  model->train();
  dist.prepare_model(*model, o.seed);
  train::AdamW optimizer(*model, {0.9, 0.999, 1e-6, o.weight_decay});
  train::TrainingStep training_step(*model, optimizer, dist, o.clip_norm);
  const bool masked = p.config.padding == Padding::kMasked;
  // Every rank cuts the same global micro-batches of W·b rows and trains on its rows
  // [r·b, (r+1)·b); step s takes micro-batches [s·k, s·k + k) (the last step may take fewer).
  const auto batches =
      training_batches(p.train_data.lengths(), o.epochs, micro_size, masked, o.seed);
  const auto first_row = static_cast<std::ptrdiff_t>(dist.rank() * rank_batch);
  const auto micro_total = static_cast<int64_t>(batches.size());
  const int64_t steps = (micro_total + o.grad_accum - 1) / o.grad_accum;
  const auto warmup =
      static_cast<int64_t>(std::llround(o.warmup_fraction * static_cast<double>(steps)));
  const int64_t every = eval_interval(o, steps);
  point.steps = steps;

  const std::string prefix = o.learning_rates.size() * o.batch_sizes.size() > 1
                                 ? fmt::format("[lr {:g} batch {}] ", base_lr, batch_size)
                                 : "";
  train::MetricsLog log(dist.primary() ? point.dir + "/metrics.jsonl" : "", steps, prefix);
  const auto start = Clock::now();
  auto elapsed = [&] { return std::chrono::duration<double>(Clock::now() - start).count(); };
  auto dev_metrics = [&] {  // collective: identical on every rank
    return tasks::evaluate(*p.spec, p.dev,
                           predict_across_ranks(*model, p.dev_data, o.eval_batch, o.bf16, p.device,
                                                dist.group(), o.dist.expert_parallel));
  };
  double w_loss = 0, w_correct = 0, w_count = 0, w_examples = 0;
  int64_t w_steps = 0;
  auto w_start = Clock::now();
  for (int64_t step = 0; step < steps; ++step) {
    if (dist.any(stop != nullptr && stop->load()))
      fail(
          "finetune interrupted at step {} of {} (lr {:g}, batch {}); the best finished point so "
          "far, if any, is in '{}'",
          step, steps, base_lr, batch_size, o.out_dir);
    const double lr = train::learning_rate(base_lr, step, warmup, steps);
    const int64_t first_micro = step * o.grad_accum;
    const int64_t micro_batches = std::min(o.grad_accum, micro_total - first_micro);
    const double value = training_step.run(
        step, lr, micro_batches,
        [&](int64_t micro) {
          const auto& global = batches[static_cast<size_t>(first_micro + micro)];
          const std::vector<size_t> rows(global.begin() + first_row,
                                         global.begin() + first_row + rank_batch);
          const Batch b = make_batch(p.train_data, rows, p.config, p.device);
          TaskLoss l;
          {
            AutocastScope autocast(o.bf16, p.device);
            const auto out = model->forward(b.input_ids, b.type_ids);
            l = task_loss(*p.spec, out, b.labels, p.config.auxiliary_loss_factor,
                          p.config.router_z_loss_factor);
          }
          w_correct += l.correct;
          w_count += l.count;
          // The z-loss is a mean over routed tokens, which differ by rank under masked padding;
          // the task loss is a mean over b rows on every rank.
          const double routed = masked ? static_cast<double>(b.real_tokens)
                                       : static_cast<double>(b.input_ids.numel());
          return train::MicroBatchLoss{l.total, {{l.z_term, routed}}};
        },
        [&](double loss, int64_t at_step) {
          return fmt::format(
              "finetune {}: loss is {} at step {} (lr {:g}, batch {}); try a lower --lr, "
              "--clip-norm or fp32",
              p.spec->display_name, loss, at_step, base_lr, batch_size);
        });
    w_loss += value;
    w_examples += static_cast<double>(micro_batches * micro_size);
    ++w_steps;
    const int64_t done = step + 1;
    if (!o.quiet && (done % o.log_every == 0 || done == steps)) {
      dist.sum({&w_correct, &w_count});
      const double seconds = std::chrono::duration<double>(Clock::now() - w_start).count();
      json r = {{"type", "train"},
                {"step", done},
                {"loss", w_loss / static_cast<double>(w_steps)},
                {"lr", lr},
                {"examples_per_s", w_examples / std::max(1e-9, seconds)},
                {"elapsed_s", elapsed()}};
      if (w_count > 0) r["accuracy"] = w_correct / w_count;
      log.train(r, elapsed());
      w_loss = w_correct = w_count = w_examples = 0;
      w_steps = 0;
      w_start = Clock::now();
    }
    if (!o.quiet && every > 0 && done % every == 0 && done < steps)
      log.eval(eval_record(p, done, dev_metrics(), elapsed()));
  }
  point.dev = dev_metrics();
  point.dev_score = tasks::task_score(*p.spec, point.dev);
  point.seconds = elapsed();
  if (!o.quiet) log.eval(eval_record(p, steps, point.dev, point.seconds));
  json result = {{"lr", base_lr},
                 {"batch", batch_size},
                 {"grad_accum", o.grad_accum},
                 {"clip_norm", o.clip_norm},
                 {"ranks", ranks},
                 {"steps", steps},
                 {"warmup_steps", warmup},
                 {"dev", point.dev},
                 {"dev_score", point.dev_score},
                 {"seconds", point.seconds}};
  if (dist.primary()) io::write_file_atomically(point.dir + "/result.json", result.dump(2) + "\n");
  dist.finish(*model);  // every rank: full expert tensors again, so that rank 0 can save them
  run.model = model;
  return run;
}

}  // namespace

std::string sweep_point_name(double learning_rate, int64_t batch_size) {
  return fmt::format("{:g}-{}", learning_rate, batch_size);
}

FinetuneResult finetune(const FinetuneOptions& o, const std::atomic<bool>* stop) {
  // ---- every check before the first step ----
  check_options(o);
  Prepared p;
  p.spec = &tasks::find_task(o.task);
  const tasks::TaskSpec& spec = *p.spec;
  if (spec.file(tasks::Split::kTrain).empty() || spec.file(tasks::Split::kDev).empty())
    fail("task {} has no train/dev split to fine-tune on (it is test-only)", spec.display_name);
  // Rank and device only; every sweep point trains under its own session.
  const dist::TrainingSession job(o.dist);
  if (fs::exists(o.out_dir + "/task.json"))
    fail("output folder '{}' already holds a fine-tuned model (task.json); choose another --out",
         o.out_dir);

  InitSource init = resolve_init(o.init, o.overrides);
  p.config = init.config;
  p.weights = init.weights;
  p.config.expert_dropout_rate = o.expert_dropout;
  p.config.validate();
  const Tokenizer tok =
      load_tokenizer_for(p.config, o.tokenizer, fmt::format("--init '{}'", o.init));
  p.config.tokenizer = fs::absolute(tok.path()).string();
  p.max_len = o.max_seq_len > 0 ? o.max_seq_len : p.config.max_seq_len;
  if (p.max_len > p.config.max_seq_len)
    fail("--max-seq-len {} exceeds the model's max_seq_len {} (config '{}')", p.max_len,
         p.config.max_seq_len, p.config.name);

  p.train = tasks::read_split(spec, o.data_dir, tasks::Split::kTrain);
  p.dev = tasks::read_split(spec, o.data_dir, tasks::Split::kDev);
  // The init weights must load into this architecture (names, shapes, recorded config).
  load_encoder_weights(p.config, p.weights, spec.num_outputs(), o.seed);

  if (job.primary()) {
    std::error_code ec;
    fs::create_directories(o.out_dir, ec);
    if (ec) fail("cannot create output folder '{}': {}", o.out_dir, ec.message());
  }
  p.device = job.device(at::Device(o.device));
  configure_threads(o.threads);
  p.train_data = encode_examples(p.train, tok, p.max_len);
  p.dev_data = encode_examples(p.dev, tok, p.max_len);

  FinetuneResult result;
  result.task = spec.name;
  result.train_examples = static_cast<int64_t>(p.train.size());
  result.dev_examples = static_cast<int64_t>(p.dev.size());
  result.baseline = tasks::majority_baseline(spec, p.train, p.dev);
  result.baseline_score = tasks::task_score(spec, result.baseline);

  json sweep = json::array();
  for (const double lr : o.learning_rates) {
    for (const int64_t batch : o.batch_sizes) {
      PointRun run = run_point(p, o, lr, batch, stop);
      result.points.push_back(run.point);
      const size_t index = result.points.size() - 1;
      sweep.push_back({{"lr", lr},
                       {"batch", run.point.batch_size},
                       {"dev_score", run.point.dev_score},
                       {"dev", run.point.dev},
                       {"dir", run.point.dir}});
      if (index != 0 && !(run.point.dev_score > result.points[result.best].dev_score)) continue;
      result.best = index;
      const SweepPoint& best = result.points[index];
      result.task_info = {{"task", spec.name},
                          {"display_name", spec.display_name},
                          {"benchmark", tasks::benchmark_name(spec.benchmark)},
                          {"kind", model_folder::task_kind_name(spec.kind)},
                          {"num_outputs", spec.num_outputs()},
                          {"labels", spec.labels},
                          {"max_seq_len", p.max_len},
                          {"lr", best.learning_rate},
                          {"batch", best.batch_size},
                          {"grad_accum", o.grad_accum},
                          {"clip_norm", o.clip_norm},
                          {"ranks", best.ranks},
                          {"epochs", o.epochs},
                          {"steps", best.steps},
                          {"warmup_fraction", o.warmup_fraction},
                          {"expert_dropout", o.expert_dropout},
                          {"seed", o.seed},
                          {"init", fs::absolute(p.weights).string()},
                          {"train_examples", result.train_examples},
                          {"dev_examples", result.dev_examples},
                          {"dev", best.dev},
                          {"dev_score", best.dev_score},
                          {"baseline", result.baseline},
                          {"baseline_score", result.baseline_score}};
      if (job.primary())
        model_folder::ModelFolder::write(o.out_dir, *run.model, p.config, result.task_info);
    }
  }
  result.task_info["sweep"] = sweep;
  if (job.primary()) {
    io::write_file_atomically(o.out_dir + "/task.json", result.task_info.dump(2) + "\n");
    io::write_file_atomically(
        o.out_dir + "/sweep.json",
        json({{"best", sweep_point_name(result.points[result.best].learning_rate,
                                        result.points[result.best].batch_size)},
              {"points", sweep}})
                .dump(2) +
            "\n");
  }
  // The model folder is complete when any rank returns (smx glue reads it back for MNLI-mm).
  if (job.group() != nullptr) job.group()->barrier("waiting for rank 0 to save the model");
  return result;
}

}  // namespace smx::finetune
