// smx embed / classify / score: batch inference over JSONL (docs/serving.md "Batch inference").
// Streams a window of lines at a time, sorts the window by length, batches by a token budget and
// writes the results in input order.
#include <fstream>
#include <iostream>
#include <thread>

#include <fmt/format.h>
#include <torch/torch.h>

#include "commands.h"
#include "smx/core/caching_allocator.h"
#include "smx/core/error.h"
#include "smx/core/threads.h"
#include "smx/io/output_file.h"
#include "smx/model/moe_layer.h"
#include "smx/serve/inference.h"
#include "smx/serve/json_output.h"
#include "smx/serve/jsonl_stream.h"
#include "smx/serve/model_bundle.h"

namespace smx::cli {
namespace {

enum class Mode { kEmbed, kClassify, kScore };

struct InferOptions {
  std::string model, tokenizer, input, output, dtype = "fp32", pooling;  // "": the folder's
  int threads = 0;
  int64_t max_batch_tokens = 8192, max_batch_size = 64, max_tokens = 0;
  size_t window = 1024;
  bool skip_bad = false;
  bool allow_nonfinite = false;
  int64_t eval_min_expert_capacity = -1;         // -1: the config's
  bool normalize = false, no_normalize = false;  // neither: the folder's default
};

void run_inference(Mode mode, const InferOptions& o) {
  configure_threads(o.threads);    // 0: every core (LibTorch's own default can be 1)
  enable_caching_cpu_allocator();  // batches repeat shapes: reuse large activation blocks
  serve::BundleOptions bundle_options;
  bundle_options.tokenizer = o.tokenizer;
  bundle_options.allow_nonfinite = o.allow_nonfinite;
  const auto bundle = serve::ModelBundle::load(o.model, bundle_options);
  if (o.eval_min_expert_capacity >= 0)  // docs/design.md §2.1: tiny inputs
    model::set_eval_min_expert_capacity(bundle->model(), o.eval_min_expert_capacity);
  if (mode != Mode::kEmbed && !bundle->task())
    fail(
        "'{}' has no task.json (a pre-trained encoder); classify and score need a fine-tuned "
        "model folder. Use `smx embed` for embeddings.",
        o.model);
  if (mode == Mode::kClassify && !bundle->task()->has_classes())
    fail("'{}' is a {} model: it predicts a score, not a class; use `smx score`", o.model,
         model_folder::task_kind_name(bundle->task()->kind));
  if (!bundle->batch_invariant())
    std::fprintf(stderr,
                 "smx: warning: outputs depend on batch composition: %s. Pass --max-batch-size 1 "
                 "for one-at-a-time results (docs/serving.md).\n",
                 bundle->batch_variance_reason().c_str());
  const auto pooling = o.pooling.empty() ? std::optional(bundle->default_pooling())
                                         : serve::parse_pooling(o.pooling);
  if (!pooling)
    fail("--pooling must be cls, cls_token, mean, max, last or tokens, not '{}'", o.pooling);
  if (o.normalize && o.no_normalize) fail("pass --normalize or --no-normalize, not both");
  const bool normalize = *pooling != serve::Pooling::kTokens && !o.no_normalize &&
                         (o.normalize || bundle->default_normalize());
  if (o.window < 1 || o.max_batch_size < 1 || o.max_batch_tokens < 1)
    fail("--window, --max-batch-size and --max-batch-tokens must be at least 1");
  const serve::OutputKind kind =
      mode == Mode::kEmbed ? serve::output_kind(*pooling) : serve::OutputKind::kLogits;
  const serve::InferenceEngine engine(bundle, serve::parse_precision(o.dtype));

  std::ifstream in_file;
  if (!o.input.empty() && o.input != "-") {
    in_file.open(o.input, std::ios::binary);
    if (!in_file) fail("cannot open --input '{}'", o.input);
  }
  std::istream& in = in_file.is_open() ? static_cast<std::istream&>(in_file) : std::cin;
  io::OutputFile out_file(o.output, {o.input, o.model});  // never over the input
  std::ostream& out = out_file.stream();

  serve::JsonlOptions stream_options;
  stream_options.window = o.window;
  stream_options.skip_bad = o.skip_bad;
  const std::string source = in_file.is_open() ? o.input : "<stdin>";
  const auto stats = serve::stream_jsonl(
      in, out, source, stream_options, [&](const std::vector<serve::JsonlRecord>& records) {
        std::vector<serve::EncodedText> encoded;
        std::vector<int64_t> lengths;
        for (const auto& r : records) {
          encoded.push_back(bundle->encode(r.input.text, r.input.text_pair, o.max_tokens));
          lengths.push_back(encoded.back().length());
        }
        std::vector<serve::ExampleOutput> outputs(records.size());
        for (const auto& batch :
             serve::plan_batches(lengths, engine, o.max_batch_tokens, o.max_batch_size)) {
          std::vector<serve::BatchRequest> requests;
          for (const size_t i : batch) requests.push_back({&encoded[i].encoded, kind});
          auto results = engine.run(requests);
          for (size_t k = 0; k < batch.size(); ++k) {
            // A NaN score must never become a label or a "null" in the output file.
            if (!results[k].finite())
              fail(
                  "{} line {}: the model's output is non-finite (NaN or Inf); its weights are "
                  "broken (see --allow-nonfinite); nothing was written",
                  source, records[batch[k]].line);
            outputs[batch[k]] = std::move(results[k]);
          }
        }
        std::vector<std::string> lines;
        for (size_t i = 0; i < records.size(); ++i) {
          std::string line = "{" + serve::record_key_fields(records[i]) + ",";
          if (mode == Mode::kEmbed) {
            line += "\"embedding\":";
            if (normalize) serve::l2_normalize(outputs[i].values);
            serve::append_json_floats(line, outputs[i], *pooling == serve::Pooling::kTokens);
          } else if (mode == Mode::kClassify) {
            line += serve::prediction_fields(outputs[i], *bundle);
          } else {
            line += outputs[i].cols == 1 ? fmt::format("\"score\":{},", outputs[i].values[0]) : "";
            line += "\"scores\":";
            serve::append_json_floats(line, outputs[i]);
          }
          line += fmt::format(",\"tokens\":{}", encoded[i].length());
          if (encoded[i].truncated) line += ",\"truncated\":true";
          lines.push_back(line + "}");
        }
        return lines;
      });
  out_file.commit();
  std::fprintf(stderr, "smx: %lld records, %lld bad lines\n", static_cast<long long>(stats.records),
               static_cast<long long>(stats.errors));
}

void register_mode(CLI::App& app, Mode mode, const char* name, const char* description) {
  auto o = std::make_shared<InferOptions>();
  CLI::App* cmd = app.add_subcommand(name, description);
  cmd->add_option("--model,-m", o->model,
                  "Model folder: config.json + model.safetensors (+ task.json when fine-tuned)")
      ->required();
  cmd->add_option("--input,-i", o->input,
                  "JSONL input, one {\"id\": ..., \"text\": ..., \"text_pair\": ...} per line "
                  "(default: stdin)");
  cmd->add_option("--output,-o", o->output, "JSONL output (default: stdout)");
  if (mode == Mode::kEmbed) {
    cmd->add_option("--pooling", o->pooling,
                    "cls (pooler output), cls_token ([CLS] hidden state), mean or max (over real "
                    "tokens), last, or tokens (every token's hidden state); default: the folder's "
                    "(embedding.json, from sentence-transformers), else cls");
    cmd->add_flag("--normalize", o->normalize,
                  "L2-normalise embeddings (default: the folder's, else not)");
    cmd->add_flag("--no-normalize", o->no_normalize, "Do not L2-normalise embeddings");
  }
  cmd->add_option("--dtype", o->dtype, "fp32 or bf16 (autocast)")->capture_default_str();
  cmd->add_option("--threads", o->threads, "Intra-op threads (0: every core)")
      ->capture_default_str();
  cmd->add_option("--max-batch-tokens", o->max_batch_tokens,
                  "Padded tokens per model call (inputs x padded length)")
      ->capture_default_str();
  cmd->add_option("--max-batch-size", o->max_batch_size, "Inputs per model call")
      ->capture_default_str();
  cmd->add_option("--max-tokens", o->max_tokens,
                  "Cut inputs to this many tokens (0: the model's max_seq_len); cut records say "
                  "\"truncated\": true")
      ->capture_default_str();
  cmd->add_option("--window", o->window,
                  "Lines read, sorted by length and batched at a time (bounds memory)")
      ->capture_default_str();
  cmd->add_flag("--skip-bad", o->skip_bad,
                "Write {\"line\": n, \"error\": ...} for a bad line and go on (default: stop)");
  cmd->add_option("--tokenizer", o->tokenizer, "SentencePiece model (overrides the config's)");
  cmd->add_option("--eval-min-expert-capacity", o->eval_min_expert_capacity,
                  "Minimum expert slots per routing group at inference (default: the config's "
                  "eval_min_expert_capacity, else min_expert_capacity); 1 suits short inputs "
                  "(docs/design.md §2.1)");
  cmd->add_flag("--allow-nonfinite", o->allow_nonfinite,
                "Load weights that hold NaN or Inf (refused by default); non-finite outputs are "
                "still errors");
  cmd->callback([mode, o] { run_inference(mode, *o); });
}

}  // namespace

void register_infer_commands(CLI::App& app) {
  register_mode(app, Mode::kEmbed, "embed", "Embed JSONL texts with a model (batch inference)");
  register_mode(app, Mode::kClassify, "classify",
                "Classify JSONL texts with a fine-tuned model: label and probabilities");
  register_mode(app, Mode::kScore, "score",
                "Score JSONL texts with a fine-tuned model: raw outputs (regression, ranking)");
}

}  // namespace smx::cli
