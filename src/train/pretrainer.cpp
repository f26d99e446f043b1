#include "smx/train/pretrainer.h"

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>

#include <torch/torch.h>

#include "smx/core/autocast.h"
#include "smx/core/caching_allocator.h"
#include "smx/core/error.h"
#include "smx/core/threads.h"
#include "smx/data/corpus_check.h"
#include "smx/data/pretraining_data.h"
#include "smx/dist/training_session.h"
#include "smx/io/checkpoint.h"
#include "smx/io/run_lock.h"
#include "smx/io/text_file.h"
#include "smx/model/model_weights.h"
#include "smx/tokenizer/tokenizer.h"
#include "smx/train/adamw.h"
#include "smx/train/lr_schedule.h"
#include "smx/train/metrics_log.h"
#include "smx/train/pretraining_loss.h"
#include "smx/train/training_step.h"

namespace smx::train {
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

using Clock = std::chrono::steady_clock;

PretrainingOptions stream_options(const ModelConfig& c, const PretrainOptions& o, Split split) {
  PretrainingOptions s;
  s.max_seq_len = c.max_seq_len;
  s.batch_size = o.batch_size;
  s.padding = c.padding == Padding::kMasked ? PaddingMode::masked : PaddingMode::reference;
  s.seed = split == Split::train ? o.seed : o.seed + 7919;  // eval batches differ from training's
  s.split = split;
  s.eval_fraction = o.eval_fraction;
  s.split_seed = o.seed;
  s.corpus = o.corpus;
  s.validate();
  return s;
}

// Fails early, naming the file, for anything that would otherwise stop a run midway.
void check_inputs(const ModelConfig& config, const PretrainOptions& o, const Tokenizer& tok) {
  if (o.data_files.empty()) fail("pretrain: no --data files given");
  if (o.steps < 1) fail("pretrain: --steps must be at least 1 (got {})", o.steps);
  if (o.batch_size < 1 || o.grad_accum < 1) fail("pretrain: --batch and --grad-accum must be >= 1");
  if (!(o.learning_rate > 0)) fail("pretrain: --lr must be > 0 (got {})", o.learning_rate);
  if (!(o.eval_fraction > 0 && o.eval_fraction < 1))
    fail("pretrain: --eval-fraction must be in (0, 1) (got {})", o.eval_fraction);
  if (tok.vocab_size() != config.vocab_size)
    fail(
        "tokenizer '{}' has {} pieces but config '{}' has vocab_size {}; train the tokenizer with "
        "--vocab-size {} or pass --set vocab_size={}",
        tok.path(), tok.vocab_size(), config.name, config.vocab_size, config.vocab_size,
        tok.vocab_size());
  if (tok.pad_id() != config.pad_id)
    fail("tokenizer '{}' pads with id {} but config '{}' has pad_id {}", tok.path(), tok.pad_id(),
         config.name, config.pad_id);
  // Missing, empty, binary, corrupt and non-UTF-8 files fail here, naming file and line (a small
  // corpus is read whole, a large one has each shard's first document read).
  const CorpusCheck corpus = check_corpus(o.data_files, o.corpus);
  if (corpus.documents < 2)
    fail("corpus {} has {} documents; pre-training needs at least 2", o.data_files[0],
         corpus.documents);
}

EvalResult evaluate(model::SparseMixer& model, const std::shared_ptr<const Tokenizer>& tok,
                    const ModelConfig& config, const PretrainOptions& o, const at::Device& device) {
  PretrainingStream stream(tok, o.data_files, stream_options(config, o, Split::eval));
  model.eval();
  torch::NoGradGuard no_grad;
  double loss = 0, mlm_correct = 0, mlm_count = 0, nsp_correct = 0, nsp_count = 0;
  int64_t batches = 0;
  while (batches < o.eval_batches) {
    auto batch = stream.next_batch();
    if (!batch) break;
    const Batch t = to_tensors(*batch, device, config.pad_id);
    AutocastScope autocast(o.bf16, device);
    const auto out = model.forward(t.input_ids, t.type_ids, t.masked_lm_positions);
    const auto l =
        pretraining_loss(out, t, config.auxiliary_loss_factor, config.router_z_loss_factor);
    loss += l.total.item<double>();
    mlm_correct += l.mlm_correct;
    mlm_count += l.mlm_count;
    nsp_correct += l.nsp_correct;
    nsp_count += l.nsp_count;
    ++batches;
  }
  model.train();
  if (batches == 0)
    fail("pretrain: the held-out split is empty; raise --eval-fraction or add documents");
  return {loss / static_cast<double>(batches), mlm_correct / std::max(1.0, mlm_count),
          nsp_correct / std::max(1.0, nsp_count), static_cast<int64_t>(nsp_count)};
}

json eval_record(int64_t step, const EvalResult& e, double elapsed) {
  return {{"type", "eval"},
          {"step", step},
          {"loss", e.loss},
          {"mlm_accuracy", e.mlm_accuracy},
          {"nsp_accuracy", e.nsp_accuracy},
          {"examples", e.examples},
          {"elapsed_s", elapsed}};
}

}  // namespace

#define SMX_PRETRAIN_FIELDS(X) \
  X(data_files)                \
  X(corpus)                    \
  X(tokenizer)                 \
  X(steps)                     \
  X(batch_size)                \
  X(grad_accum)                \
  X(warmup_steps)              \
  X(learning_rate)             \
  X(weight_decay)              \
  X(clip_norm)                 \
  X(max_time_s)                \
  X(log_every)                 \
  X(eval_every)                \
  X(eval_batches)              \
  X(eval_fraction)             \
  X(checkpoint_every)          \
  X(keep_checkpoints)          \
  X(seed)                      \
  X(threads)                   \
  X(bf16)                      \
  X(device)                    \
  X(dist)

json to_json(const PretrainOptions& o) {
  json j;
#define SMX_WRITE(field) j[#field] = o.field;
  SMX_PRETRAIN_FIELDS(SMX_WRITE)
#undef SMX_WRITE
  return j;
}

PretrainOptions pretrain_options_from_json(const json& j, const std::string& source) {
  PretrainOptions o;
  try {
#define SMX_READ(field) \
  if (j.contains(#field)) j.at(#field).get_to(o.field);
    SMX_PRETRAIN_FIELDS(SMX_READ)
#undef SMX_READ
  } catch (const json::exception& e) {
    fail("{}: bad training options: {}", source, e.what());
  }
  return o;
}

PretrainResult pretrain(ModelConfig config, const PretrainOptions& o,
                        const std::atomic<bool>* stop) {
  // ---- everything that can be wrong is checked before the first step ----
  if (o.out_dir.empty()) fail("pretrain: --out is required");
  std::error_code ec;
  fs::create_directories(o.out_dir, ec);
  if (ec) fail("cannot create output folder '{}': {}", o.out_dir, ec.message());
  const std::string tokenizer_path = !o.tokenizer.empty() ? o.tokenizer : config.tokenizer;
  if (tokenizer_path.empty())
    fail("pretrain: no tokenizer: pass --tokenizer or record one in the config (\"tokenizer\")");
  auto tok = std::make_shared<const Tokenizer>(Tokenizer::load(tokenizer_path));
  check_inputs(config, o, *tok);
  config.tokenizer = fs::absolute(tokenizer_path).string();
  io::CheckpointManager checkpoints(o.out_dir, o.keep_checkpoints);  // also checks it is writable
  dist::TrainingSession dist(o.dist);  // single-process unless a process group was initialised
  // Rank 0 is the one writer of the run folder; a second job on it fails here, before any write.
  std::optional<io::RunLock> run_lock;
  if (dist.primary()) run_lock.emplace(o.out_dir);

  const at::Device device = dist.device(at::Device(o.device));
  configure_threads(o.threads);
  if (device.is_cpu()) enable_caching_cpu_allocator();  // steps repeat the same activation sizes
  // Resuming: the checkpoint overwrites every parameter, so the model skips its random init.
  auto model = dist::TrainingSession::make_model(config, o.seed, /*weights_follow=*/o.resume);
  model->to(device);
  model->train();
  dist.prepare_model(*model, o.seed);
  AdamW optimizer(*model, {0.9, 0.999, 1e-6, o.weight_decay});
  TrainingStep training_step(*model, optimizer, dist, o.clip_norm);
  PretrainingStream stream(tok, o.data_files,
                           dist.train_stream(stream_options(config, o, Split::train)));
  const int64_t warmup =
      o.warmup_steps >= 0 ? o.warmup_steps : std::min<int64_t>(10000, o.steps / 10);

  int64_t step = 0;
  double prior_elapsed = 0;
  if (o.resume) {
    std::vector<std::string> skipped;
    const auto folder = checkpoints.latest_intact(dist.primary(), &skipped);
    if (dist.primary())
      for (const auto& why : skipped)
        fmt::print(stderr, "smx: warning: checkpoint {}; resuming from an older one\n", why);
    if (!folder)
      fail("--resume: no intact checkpoint in '{}'{}", checkpoints.directory(),
           skipped.empty() ? "" : " (see the warnings above); start a new run with --out");
    dist.load_weights(*model, *folder + "/model.safetensors");
    io::CheckpointContents c = io::CheckpointManager::load(*folder);
    dist.restore(c);
    std::vector<io::NamedTensor> opt_state;
    at::Tensor rng;
    for (const auto& t : c.optimizer) {
      if (t.name == "rng.cpu")
        rng = t.tensor;
      else
        opt_state.push_back(t);
    }
    optimizer.load_state(opt_state, *folder + "/optimizer.safetensors");
    if (!rng.defined()) fail("checkpoint '{}' has no RNG state", *folder);
    at::Generator generator = at::detail::getDefaultCPUGenerator();
    generator.set_state(rng);
    stream.restore(c.data_state);
    step = c.step;
    prior_elapsed = c.trainer.value("elapsed_s", 0.0);
  } else if (checkpoints.latest()) {
    fail(
        "output folder '{}' already holds checkpoints; pass --resume to continue it or choose "
        "another --out",
        o.out_dir);
  }
  if (dist.primary()) {
    io::write_file_atomically(o.out_dir + "/config.json", config.to_json().dump(2) + "\n");
    io::write_file_atomically(o.out_dir + "/options.json", to_json(o).dump(2) + "\n");
  }

  if (o.resume && dist.primary())  // records a killed run wrote after its last checkpoint
    MetricsLog::drop_records_after(o.out_dir + "/metrics.jsonl", step);
  MetricsLog log(dist.primary() ? o.out_dir + "/metrics.jsonl" : "", o.steps);  // "": silent
  log.set_time_limit(o.max_time_s);
  auto save = [&](int64_t at_step, double elapsed) {
    io::CheckpointContents c;
    c.step = at_step;
    for (const auto& p : model->named_parameters()) c.weights.push_back({p.key(), p.value()});
    c.weights_metadata = {{"smx.config", config.to_json().dump()}};
    c.optimizer = optimizer.state();
    c.optimizer.push_back({"rng.cpu", at::detail::getDefaultCPUGenerator().get_state()});
    c.trainer = {{"step", at_step},
                 {"steps", o.steps},
                 {"warmup_steps", warmup},
                 {"elapsed_s", elapsed},
                 {"seed", o.seed}};
    c.data_state = stream.state();
    dist.gather(c);  // every rank: expert blocks, RNG and data states
    return dist.primary() ? checkpoints.save(c) : std::string();
  };

  PretrainResult result;
  result.first_step = step;
  const auto start = Clock::now();
  auto elapsed = [&] {
    return prior_elapsed + std::chrono::duration<double>(Clock::now() - start).count();
  };
  double window_tokens = 0, window_loss = 0, mlm_c = 0, mlm_n = 0, nsp_c = 0, nsp_n = 0;
  double window_data_wait = 0;  // seconds this rank's steps waited for batches
  PretrainingStreamStats data_before = stream.stats();
  auto window_start = Clock::now();
  int64_t window_steps = 0;

  while (step < o.steps) {
    if (dist.any((stop != nullptr && stop->load()) ||
                 (o.max_time_s > 0 && elapsed() >= o.max_time_s) ||
                 (o.stop_after > 0 && step - result.first_step >= o.stop_after))) {
      result.interrupted = true;
      break;
    }
    const double lr = learning_rate(o.learning_rate, step, warmup, o.steps);
    const double step_loss = training_step.run(
        step, lr, o.grad_accum,
        [&](int64_t) {
          const auto wait_start = Clock::now();
          const auto batch = dist.local_batch(stream.next_batch());
          window_data_wait += std::chrono::duration<double>(Clock::now() - wait_start).count();
          const Batch t = to_tensors(*batch, device, config.pad_id);
          PretrainingLoss l;
          {
            AutocastScope autocast(o.bf16, device);
            const auto out = model->forward(t.input_ids, t.type_ids, t.masked_lm_positions);
            l = pretraining_loss(out, t, config.auxiliary_loss_factor, config.router_z_loss_factor);
          }
          window_tokens += static_cast<double>(t.real_tokens);
          mlm_c += l.mlm_correct;
          mlm_n += l.mlm_count;
          nsp_c += l.nsp_correct;
          nsp_n += l.nsp_count;
          // Means over masked slots and over routed tokens become means over the global batch.
          const double routed =
              config.padding == Padding::kMasked ? t.real_tokens : t.input_ids.numel();
          return MicroBatchLoss{l.total, {{l.mlm_term, l.mlm_count}, {l.z_term, routed}}};
        },
        [&](double value, int64_t at_step) {
          const auto last = checkpoints.latest();
          return fmt::format(
              "loss is {} at step {}; stopping. The last good checkpoint is {}. Try a lower "
              "--lr, --clip-norm, or fp32",
              value, at_step, last ? *last : std::string("(none yet)"));
        });
    ++step;
    ++window_steps;
    window_loss += step_loss;
    result.losses.push_back(step_loss);

    if (step % o.log_every == 0 || step == o.steps) {
      const double seconds = std::chrono::duration<double>(Clock::now() - window_start).count();
      dist.sum({&window_tokens, &mlm_c, &mlm_n, &nsp_c, &nsp_n});
      const PretrainingStreamStats data_now = stream.stats();
      log.train({{"type", "train"},
                 {"step", step},
                 {"loss", window_loss / static_cast<double>(window_steps)},
                 {"mlm_accuracy", mlm_c / std::max(1.0, mlm_n)},
                 {"nsp_accuracy", nsp_c / std::max(1.0, nsp_n)},
                 {"tokens_per_s", window_tokens / std::max(1e-9, seconds)},
                 {"data_wait_s", window_data_wait / static_cast<double>(window_steps)},
                 {"data_tokens_per_s", pipeline_tokens_per_s(data_before, data_now)},
                 {"bad_records", data_now.bad_records},
                 {"lr", lr},
                 {"elapsed_s", elapsed()}},
                elapsed());
      window_tokens = window_loss = mlm_c = mlm_n = nsp_c = nsp_n = 0;
      window_steps = 0;
      if (data_now.bad_records > data_before.bad_records)
        log.message(fmt::format("data: skipped {} bad record(s) so far; the last: {}",
                                data_now.bad_records, data_now.last_bad_record));
      window_data_wait = 0;
      data_before = data_now;
      window_start = Clock::now();
    }
    if (o.eval_every > 0 && step % o.eval_every == 0 && step < o.steps)
      log.eval(eval_record(step, evaluate(*model, tok, config, o, device), elapsed()));
    if (o.checkpoint_every > 0 && step % o.checkpoint_every == 0 && step < o.steps)
      save(step, elapsed());
  }

  result.last_step = step;
  if (result.first_step < step || result.interrupted) {
    const std::string folder = save(step, elapsed());
    log.message(fmt::format("checkpoint: {}", folder));
  }
  result.final_eval = evaluate(*model, tok, config, o, device);
  log.eval(eval_record(step, result.final_eval, elapsed()));
  dist.finish(*model);
  if (dist.primary())  // for fine-tuning: --init DIR
    model::save_model_weights(*model, o.out_dir + "/model.safetensors");
  return result;
}

}  // namespace smx::train
