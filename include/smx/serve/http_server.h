// The server's HTTP/1.1 transport: one I/O thread multiplexes every connection with poll() and
// reads whole requests (head, then body) under a total deadline; complete requests go to a pool
// of worker threads. A slow or idle client therefore costs a file descriptor, never a thread, and
// cannot keep health checks waiting or shutdown from finishing.
//
//   - The listener is bound without SO_REUSEPORT: a port in use is an error, not a shared port.
//   - Over `max_connections` open connections, a new one is answered 503 at once and closed.
//   - A request not fully received within `request_read_timeout_ms` of its first byte gets 408
//     and the connection is closed; an idle kept-alive connection closes after `idle_timeout_ms`.
//   - Pipelined requests are served in order, one at a time.
//   - The application sees each request's head first (HeadHandler, on the I/O thread) and may
//     answer it there without reading the body (auth, 404/405, concurrency limit, cheap GETs).
//   - stop(): the listener closes, connections with no request being handled close at once,
//     handled requests are answered with "Connection: close", then run() returns.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "smx/serve/http.h"

namespace smx::serve {

struct HttpServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;                          // 0 = any free port; else 1-65535
  int worker_threads = 32;                  // requests handled at once
  std::size_t max_connections = 1024;       // open connections; more get 503 at once
  std::size_t max_header_bytes = 16384;     // request line + header fields (431 above)
  std::size_t max_body_bytes = 1 << 20;     // Content-Length limit (413 above)
  int64_t request_read_timeout_ms = 10000;  // first byte to last body byte (408 past it)
  int64_t idle_timeout_ms = 5000;           // kept-alive connection with no request
  int64_t write_timeout_ms = 10000;         // writing one response
  int keep_alive_max_requests = 1000;       // requests per connection, then Connection: close
};

class HttpServer {
 public:
  // I/O thread, once a request's head is parsed. Return true after filling the response to answer
  // without reading the body (the connection then closes if a body was announced).
  using HeadHandler = std::function<bool(HttpRequest&, HttpResponse&)>;
  // Worker thread, with the whole body read.
  using Handler = std::function<void(const HttpRequest&, HttpResponse&)>;
  // I/O thread, after a response was written (or the connection failed while writing it).
  // `request` is null for answers given before a request could be parsed (400, 408, 431, 503).
  using Logger = std::function<void(const HttpRequest* request, const HttpResponse&)>;
  // Builds the body of the transport's own errors (400, 408, 413, 431, 501, 503); `request` may
  // be null. Default: {"error": message}.
  using ErrorBody =
      std::function<void(const HttpRequest* request, const std::string& message, HttpResponse&)>;

  HttpServer(HttpServerOptions options, HeadHandler on_head, Handler handler, Logger logger = {},
             ErrorBody error_body = {});
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds and listens; returns the port. Throws smx::Error naming host:port and the reason.
  int bind();
  // Serves until stop(), then finishes handled requests and joins the workers.
  void run();
  // Thread-safe, idempotent; run() returns once handled requests are answered.
  void stop();

  int port() const;
  int64_t open_connections() const;
  const HttpServerOptions& options() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace smx::serve
