// smx serve: the HTTP inference server (docs/serving.md). SIGINT/SIGTERM stop it gracefully:
// no new connections, in-flight requests answered, exit status 0.
#include <chrono>
#include <cstdio>
#include <fstream>
#include <thread>

#include <torch/torch.h>

#include "commands.h"
#include "signals.h"
#include "smx/core/error.h"
#include "smx/serve/server.h"

namespace smx::cli {

void register_serve_command(CLI::App& app) {
  struct Options {
    std::string model, tokenizer, dtype = "fp32", port_file;
    int threads = 0;
    serve::ServerOptions server;
    int64_t max_wait_ms = 2;
    bool always_wait = false;
  };
  auto o = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand("serve", "HTTP inference server with dynamic batching");
  cmd->add_option("--model,-m", o->model, "Model folder (see `smx embed --help`)")->required();
  cmd->add_option("--host", o->server.host, "Address to listen on (loopback by default)")
      ->capture_default_str();
  cmd->add_option("--port,-p", o->server.port, "Port (0: any free port, printed at startup)")
      ->capture_default_str();
  cmd->add_option("--port-file", o->port_file, "Write the port to this file once listening");
  cmd->add_option("--tokenizer", o->tokenizer, "SentencePiece model (overrides the config's)");
  cmd->add_option("--dtype", o->dtype, "fp32 or bf16 (autocast)")->capture_default_str();
  cmd->add_option("--threads", o->threads, "Intra-op threads for the model (0: default)")
      ->capture_default_str();
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
                  "Queued inputs before requests get 503 + Retry-After")
      ->capture_default_str();
  cmd->add_option("--max-body-bytes", s.limits.max_body_bytes, "Request body limit (413 above)")
      ->capture_default_str();
  cmd->add_option("--max-inputs", s.limits.max_inputs, "Inputs per request (413 above)")
      ->capture_default_str();
  cmd->add_option("--max-text-bytes", s.limits.max_text_bytes, "Bytes per text (413 above)")
      ->capture_default_str();
  cmd->add_option("--max-input-tokens", s.max_input_tokens,
                  "Tokens per input (0: the model's max_seq_len); over it: 413, or cut with "
                  "--truncate")
      ->capture_default_str();
  cmd->add_flag("--truncate", s.truncate, "Cut inputs over --max-input-tokens instead of 413");
  cmd->add_option("--request-timeout-ms", s.request_timeout_ms,
                  "Time a request may take in queue + model (504 past it)")
      ->capture_default_str();
  cmd->add_option("--http-threads", s.http_threads,
                  "Connections served at once (one thread each; more wait to be accepted)")
      ->capture_default_str();
  cmd->add_option("--keep-alive-requests", s.keep_alive_max_requests,
                  "Requests per kept-alive connection")
      ->capture_default_str();
  cmd->add_option("--keep-alive-timeout", s.keep_alive_timeout_s,
                  "Seconds an idle kept-alive connection stays open")
      ->capture_default_str();
  cmd->add_option("--read-timeout", s.read_timeout_s,
                  "Seconds a client may stay silent mid-request before it is dropped")
      ->capture_default_str();
  cmd->callback([o] {
    const auto& stop = stop_requested();  // install the handlers before anything slow
    if (o->threads > 0) torch::set_num_threads(o->threads);
    serve::BundleOptions bundle_options;
    bundle_options.tokenizer = o->tokenizer;
    const auto bundle = serve::ModelBundle::load(o->model, bundle_options);
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
    if (!o->port_file.empty()) {
      const std::string tmp = o->port_file + ".tmp";
      std::ofstream(tmp) << port << "\n";
      std::rename(tmp.c_str(), o->port_file.c_str());
    }
    std::fprintf(stderr, "smx serve: %s on http://%s:%d (%s%s)\n", bundle->config().name.c_str(),
                 o->server.host.c_str(), port, o->dtype.c_str(),
                 bundle->task() ? (", task " + bundle->task()->task).c_str() : "");
    std::thread http([&server] { server.run(); });
    while (!stop.load()) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    std::fprintf(stderr, "smx serve: stopping: finishing in-flight requests\n");
    server.stop();
    http.join();
    std::fprintf(stderr, "smx serve: stopped\n");
  });
}

}  // namespace smx::cli
