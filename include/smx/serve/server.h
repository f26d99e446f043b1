// The HTTP/1.1 inference server (docs/serving.md): POST /v1/embed and /v1/classify with dynamic
// batching, GET /healthz, /readyz and /metrics (Prometheus text). Plain HTTP, loopback by default.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "smx/serve/batcher.h"
#include "smx/serve/inference.h"
#include "smx/serve/metrics.h"
#include "smx/serve/model_bundle.h"
#include "smx/serve/request.h"

namespace smx::serve {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;  // 0 = any free port (see Server::bind)
  Limits limits;
  int64_t max_input_tokens = 0;  // per input; 0 = the model's max_seq_len
  bool truncate = false;         // inputs over max_input_tokens: cut (true) or 413 (false)
  // Queued inputs wait (up to max_wait) only for requests already being read: a lone request
  // runs at once.
  BatcherOptions batcher = [] {
    BatcherOptions b;
    b.wait_only_for_announced = true;
    return b;
  }();
  Precision precision = Precision::kFp32;
  int64_t request_timeout_ms = 30000;  // queue + model time per request (504 past it)
  int http_threads = 32;               // concurrent connections served (one thread each)
  int keep_alive_max_requests = 1000;  // requests per connection before it is closed
  int keep_alive_timeout_s = 5;        // idle time before a kept-alive connection is closed
  int read_timeout_s = 5;              // a client silent this long mid-request is dropped
  int write_timeout_s = 5;
  int retry_after_s = 1;  // Retry-After on 503 (queue full)
};

class Server {
 public:
  Server(std::shared_ptr<const ModelBundle> bundle, ServerOptions options);
  ~Server();  // stops (gracefully) if still running
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds host:port (port 0: a free one) and returns the port. Connections queue from here on.
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

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace smx::serve
