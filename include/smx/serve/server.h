// The HTTP/1.1 inference server (docs/serving.md) on the poll()-based transport of http_server.h:
//   smx's own   POST /v1/embed, /v1/classify
//   OpenAI      POST /v1/embeddings, GET /v1/models
//   TEI         POST /embed, /embed_all, /predict, /rerank, /tokenize, /decode; GET /info, /health
//   operations  GET /healthz, /readyz, /metrics (Prometheus text)
// with dynamic batching, API keys, a concurrency limit answered 429 before the body is read,
// CORS, request ids and one JSON log line per request. Plain HTTP, loopback by default.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "smx/serve/auth.h"
#include "smx/serve/batcher.h"
#include "smx/serve/inference.h"
#include "smx/serve/metrics.h"
#include "smx/serve/model_bundle.h"
#include "smx/serve/request.h"

namespace smx::serve {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;  // 0 = any free port (see Server::bind); else 1-65535
  Limits limits;
  int64_t max_input_tokens = 0;  // per input; 0 = the model's max_seq_len
  bool truncate = false;         // inputs over max_input_tokens: cut (true) or refused (false)
  // Queued inputs wait (up to max_wait) only for requests already being read: a lone request
  // runs at once.
  BatcherOptions batcher = [] {
    BatcherOptions b;
    b.wait_only_for_announced = true;
    return b;
  }();
  Precision precision = Precision::kFp32;
  int64_t request_timeout_ms = 30000;     // queue + model time per request (504 past it)
  int http_threads = 32;                  // requests handled at once (worker threads)
  int64_t max_connections = 1024;         // open connections; more are answered 503 at once
  int64_t max_concurrent_requests = 512;  // inference requests admitted; more get 429 at once
  int keep_alive_max_requests = 1000;     // requests per connection before it is closed
  int keep_alive_timeout_s = 5;           // idle time before a kept-alive connection is closed
  int read_timeout_s = 5;                 // a whole request (head + body) must arrive within this
  int write_timeout_s = 5;
  int retry_after_s = 1;  // Retry-After on 429 (queue full, concurrency limit)
  // The name /v1/embeddings checks `model` against and /v1/models, /info report ("" = the model
  // folder's name, else the config's name).
  std::string served_model_name;
  std::optional<Pooling> pooling;  // embedding routes' default ("" = the model folder's)
  ApiKeys api_keys;                // empty: no authentication
  std::string cors_allow_origin;   // "" off, "*" any origin, else a comma-separated list
  bool json_logs = false;          // one JSON line per request through `log`
  std::function<void(const std::string&)> log;  // default: a line on stderr
};

class Server {
 public:
  Server(std::shared_ptr<const ModelBundle> bundle, ServerOptions options);
  ~Server();  // stops (gracefully) if still running
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds host:port (port 0: a free one) and returns the port. Throws smx::Error when the port is
  // out of range, in use, or the host is not a local address.
  int bind();
  // Serves until stop(); then finishes in-flight requests and stops the batcher. Binds first if
  // bind() was not called.
  void run();
  // Stops accepting connections and makes run() return once in-flight requests are answered.
  // Safe from any thread, any number of times, before or during run().
  void stop();

  int port() const;
  MetricsRegistry& metrics();
  const ServerOptions& options() const;
  const std::string& model_name() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace smx::serve
