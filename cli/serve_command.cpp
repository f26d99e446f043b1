// smx serve: the HTTP inference server (docs/serving.md). SIGINT/SIGTERM/SIGHUP stop it
// gracefully: no new connections, in-flight requests answered, exit status 0. Any startup
// failure (port out of range or in use, unwritable --port-file, bad key file) exits non-zero.
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <thread>

#include <torch/torch.h>

#include "commands.h"
#include "signals.h"
#include "smx/core/caching_allocator.h"
#include "smx/core/error.h"
#include "smx/core/threads.h"
#include "smx/io/text_file.h"
#include "smx/model/moe_layer.h"
#include "smx/serve/server.h"

namespace smx::cli {
namespace {

void check_port(int port) {
  if (port < 0 || port > 65535) fail("--port {} is outside 1-65535 (0 picks a free port)", port);
}

}  // namespace

void register_serve_command(CLI::App& app) {
  struct Options {
    std::string model, tokenizer, dtype = "fp32", port_file, pooling, api_key_file;
    std::vector<std::string> api_keys;
    int threads = 0;
    serve::ServerOptions server;
    int64_t max_wait_ms = 2;
    bool always_wait = false;
    bool allow_nonfinite = false;
    int64_t eval_min_expert_capacity = -1;  // -1: the config's
  };
  auto o = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand("serve", "HTTP inference server with dynamic batching");
  cmd->add_option("--model,-m", o->model, "Model folder (see `smx embed --help`)")->required();
  cmd->add_option("--host", o->server.host, "Address to listen on (loopback by default)")
      ->capture_default_str();
  cmd->add_option("--port,-p", o->server.port, "Port 1-65535 (0: any free port, printed)")
      ->capture_default_str();
  cmd->add_option("--port-file", o->port_file, "Write the port to this file once listening");
  cmd->add_option("--tokenizer", o->tokenizer, "SentencePiece model (overrides the config's)");
  cmd->add_option("--eval-min-expert-capacity", o->eval_min_expert_capacity,
                  "Minimum expert slots per routing group at inference (default: the config's "
                  "eval_min_expert_capacity, else min_expert_capacity); 1 suits short inputs "
                  "(docs/design.md §2.1)");
  cmd->add_flag("--allow-nonfinite", o->allow_nonfinite,
                "Load weights that hold NaN or Inf (refused by default); NaN/Inf outputs are "
                "still answered 500");
  cmd->add_option("--dtype", o->dtype, "fp32 or bf16 (autocast)")->capture_default_str();
  cmd->add_option("--threads", o->threads, "Intra-op threads for the model (0: every core)")
      ->capture_default_str();
  cmd->add_option("--served-model-name", o->server.served_model_name,
                  "Model name for /v1/embeddings, /v1/models and /info (default: the folder's)");
  cmd->add_option("--pooling", o->pooling,
                  "cls, cls_token, mean, max or last: default pooling of /v1/embed, "
                  "/v1/embeddings and /embed (default: the folder's embedding.json or "
                  "sentence-transformers files, else cls)");
  cmd->add_option("--api-key", o->api_keys,
                  "Require Authorization: Bearer KEY (repeat for several keys; also SMX_API_KEY)");
  cmd->add_option("--api-key-file", o->api_key_file, "File of API keys, one per line");
  cmd->add_option("--cors-allow-origin", o->server.cors_allow_origin,
                  "Allow browser calls from these origins (comma-separated, or *)");
  cmd->add_flag("--json-logs", o->server.json_logs, "One JSON line per request on stderr");
  auto& s = o->server;
  cmd->add_option("--max-batch-tokens", s.batcher.max_batch_tokens,
                  "Padded tokens per model call (inputs x padded length)")
      ->capture_default_str();
  cmd->add_option("--max-batch-size", s.batcher.max_batch_size, "Inputs per model call")
      ->capture_default_str();
  cmd->add_option("--max-wait-ms", o->max_wait_ms,
                  "How long the oldest queued input waits for batch-mates")
      ->capture_default_str();
  cmd->add_flag("--always-wait", o->always_wait,
                "Queued inputs always wait --max-wait-ms for batch-mates (default: only while "
                "other requests are being read)");
  cmd->add_option("--max-queue", s.batcher.max_queue,
                  "Queued inputs before requests get 429 + Retry-After")
      ->capture_default_str();
  cmd->add_option("--max-concurrent-requests", s.max_concurrent_requests,
                  "Model requests in flight before new ones get 429 at once (body unread)")
      ->capture_default_str();
  cmd->add_option("--max-connections", s.max_connections,
                  "Open connections before new ones get 503 at once")
      ->capture_default_str();
  cmd->add_option("--max-body-bytes", s.limits.max_body_bytes, "Request body limit (413 above)")
      ->capture_default_str();
  cmd->add_option("--max-inputs", s.limits.max_inputs, "Inputs per request (413 above)")
      ->capture_default_str();
  cmd->add_option("--max-text-bytes", s.limits.max_text_bytes, "Bytes per text (413 above)")
      ->capture_default_str();
  cmd->add_option("--max-input-tokens", s.max_input_tokens,
                  "Tokens per input (0: the model's max_seq_len); over it: 413/422, or cut with "
                  "--truncate")
      ->capture_default_str();
  cmd->add_flag("--truncate", s.truncate, "Cut inputs over --max-input-tokens instead of refusing");
  cmd->add_option("--request-timeout-ms", s.request_timeout_ms,
                  "Time a request may take from its first byte to its answer (504 past it)")
      ->capture_default_str();
  cmd->add_option("--http-threads", s.http_threads, "Requests handled at once (worker threads)")
      ->capture_default_str();
  cmd->add_option("--keep-alive-requests", s.keep_alive_max_requests,
                  "Requests per kept-alive connection")
      ->capture_default_str();
  cmd->add_option("--keep-alive-timeout", s.keep_alive_timeout_s,
                  "Seconds an idle kept-alive connection stays open")
      ->capture_default_str();
  cmd->add_option("--read-timeout", s.read_timeout_s,
                  "Seconds a whole request (headers + body) may take to arrive (408 past it)")
      ->capture_default_str();
  cmd->callback([o] {
    const auto& stop = stop_requested();  // install the handlers before anything slow
    check_port(o->server.port);
    if (!o->port_file.empty()) {  // fail before the model loads, not after
      std::ofstream probe(o->port_file + ".tmp");
      if (!probe)
        fail("cannot write the port file '{}': {}; pass a --port-file in a writable folder",
             o->port_file, std::strerror(errno));
      probe.close();
      std::remove((o->port_file + ".tmp").c_str());
    }
    for (const auto& key : o->api_keys) o->server.api_keys.add(key, "--api-key");
    if (!o->api_key_file.empty()) o->server.api_keys.add_file(o->api_key_file);
    if (const char* env = std::getenv("SMX_API_KEY"); env && *env)
      o->server.api_keys.add(env, "SMX_API_KEY");
    if (!o->pooling.empty()) {
      const auto pooling = serve::parse_pooling(o->pooling);
      if (!pooling || *pooling == serve::Pooling::kTokens)
        fail("--pooling '{}' must be cls, cls_token, mean, max or last", o->pooling);
      o->server.pooling = *pooling;
    }
    // One batcher thread runs every model call: its intra-op threads get every core by default
    // (LibTorch's own default can be 1), and batch shapes that repeat reuse cached activation
    // blocks; at most 1 GiB stays cached while idle, so a long-running server's memory levels off.
    const int threads = configure_threads(o->threads);
    enable_caching_cpu_allocator(int64_t{1} << 30);
    serve::BundleOptions bundle_options;
    bundle_options.tokenizer = o->tokenizer;
    bundle_options.allow_nonfinite = o->allow_nonfinite;
    const auto bundle = serve::ModelBundle::load(o->model, bundle_options);
    if (o->eval_min_expert_capacity >= 0)  // docs/design.md §2.1: tiny inputs
      model::set_eval_min_expert_capacity(bundle->model(), o->eval_min_expert_capacity);
    if (!bundle->batch_invariant())
      std::fprintf(stderr,
                   "smx serve: warning: outputs depend on which requests share a batch: %s. Use "
                   "a model with padding \"masked\" and routing_groups \"sequence\", or "
                   "--max-batch-size 1 (docs/serving.md).\n",
                   bundle->batch_variance_reason().c_str());
    o->server.precision = serve::parse_precision(o->dtype);
    o->server.batcher.max_wait_us = o->max_wait_ms * 1000;
    o->server.batcher.wait_only_for_announced = !o->always_wait;
    serve::Server server(bundle, o->server);
    const int port = server.bind();
    // Atomic, so a reader never sees a partial port; a failure is fatal (the caller waits on it).
    if (!o->port_file.empty()) io::write_file_atomically(o->port_file, std::to_string(port) + "\n");
    std::fprintf(stderr, "smx serve: %s on http://%s:%d (%s, %d threads%s%s)\n",
                 server.model_name().c_str(), o->server.host.c_str(), port, o->dtype.c_str(),
                 threads, bundle->task() ? (", task " + bundle->task()->task).c_str() : "",
                 o->server.api_keys.empty() ? "" : ", API key required");
    std::exception_ptr failure;  // written before `failed` is set
    std::atomic<bool> failed{false};
    std::thread http([&server, &failure, &failed] {
      try {
        server.run();
      } catch (...) {
        failure = std::current_exception();
        failed = true;
      }
    });
    while (!stop.load() && !failed.load())
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    if (!failed.load()) std::fprintf(stderr, "smx serve: stopping: finishing in-flight requests\n");
    server.stop();
    http.join();
    if (failure) std::rethrow_exception(failure);
    std::fprintf(stderr, "smx serve: stopped\n");
  });
}

}  // namespace smx::cli
