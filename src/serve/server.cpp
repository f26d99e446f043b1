#include "smx/serve/server.h"

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <mutex>

#include <sys/socket.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "smx/core/error.h"
#include "smx/serve/json_output.h"

namespace smx::serve {
namespace {

using Clock = std::chrono::steady_clock;

const std::vector<double> kLatencyBuckets = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                             0.25,  0.5,    1,     2.5,  5,     10};
const std::vector<double> kSizeBuckets = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512};
const std::vector<double> kTokenBuckets = {16, 64, 256, 1024, 4096, 16384, 65536};

// Known routes keep the metrics' label sets bounded whatever paths clients send.
std::string route_label(const std::string& path) {
  for (const char* route : {"/v1/embed", "/v1/classify", "/healthz", "/readyz", "/metrics"})
    if (path == route) return route;
  return "other";
}

// Per worker thread: when the current request started (set before the body is read).
thread_local Clock::time_point t_request_start;
thread_local bool t_request_started = false;

void reply_json(httplib::Response& res, int status, const std::string& body) {
  res.status = status;
  res.set_content(body, "application/json");
}

void reply_error(httplib::Response& res, int status, const std::string& message) {
  reply_json(res, status, error_json(message));
}

}  // namespace

struct Server::Impl {
  std::shared_ptr<const ModelBundle> bundle;
  ServerOptions options;
  std::shared_ptr<InferenceEngine> engine;
  MetricsRegistry metrics;
  std::unique_ptr<Batcher> batcher;
  httplib::Server http;
  int port = -1;
  int listen_fd = -1;
  std::atomic<bool> draining{false};
  std::atomic<int64_t> in_flight{0};

  std::mutex state_mutex;
  std::condition_variable state_cv;
  bool stop_requested = false, running = false, finished = false;

  Impl(std::shared_ptr<const ModelBundle> b, ServerOptions o)
      : bundle(std::move(b)), options(std::move(o)) {
    engine = std::make_shared<InferenceEngine>(bundle, options.precision);
    register_metrics();
    batcher = std::make_unique<Batcher>(engine, options.batcher,
                                        [this](const BatchReport& r) { on_batch(r); });
    configure_http();
  }

  void register_metrics() {
    metrics.add_counter("smx_http_requests_total", "HTTP requests answered, by route and status");
    metrics.add_counter("smx_http_request_errors_total",
                        "HTTP requests answered with status >= 400, by route and status");
    metrics.add_histogram("smx_http_request_duration_seconds",
                          "Time from request headers to response, by route", kLatencyBuckets);
    metrics.add_counter("smx_inputs_total", "Inputs run through the model, by route");
    metrics.add_counter("smx_input_tokens_total", "Real tokens of the inputs run, by route");
    metrics.add_counter("smx_inputs_truncated_total", "Inputs cut to max_input_tokens");
    metrics.add_counter("smx_queue_rejections_total", "Requests refused with 503: queue full");
    metrics.add_counter("smx_request_timeouts_total", "Requests answered 504: request timeout");
    metrics.add_gauge("smx_queue_depth", "Inputs waiting for a model call");
    metrics.add_gauge("smx_requests_in_flight", "Inference requests being handled");
    metrics.add_histogram("smx_batch_size", "Inputs per model call", kSizeBuckets);
    metrics.add_histogram("smx_batch_padded_tokens", "Padded tokens per model call", kTokenBuckets);
    metrics.add_counter("smx_batch_tokens_total", "Real tokens run through the model");
    metrics.add_counter("smx_batch_padded_tokens_total", "Padded tokens run through the model");
    metrics.add_histogram("smx_batch_duration_seconds", "Model call time", kLatencyBuckets);
    metrics.add_histogram("smx_queue_wait_seconds",
                          "Longest time an input of a batch waited in the queue", kLatencyBuckets);
    metrics.set("smx_queue_depth", {}, 0);
    metrics.set("smx_requests_in_flight", {}, 0);
  }

  void on_batch(const BatchReport& r) {
    metrics.observe("smx_batch_size", {}, static_cast<double>(r.inputs));
    metrics.observe("smx_batch_padded_tokens", {}, static_cast<double>(r.padded_tokens));
    metrics.increment("smx_batch_tokens_total", {}, static_cast<double>(r.tokens));
    metrics.increment("smx_batch_padded_tokens_total", {}, static_cast<double>(r.padded_tokens));
    metrics.observe("smx_batch_duration_seconds", {}, r.seconds);
    metrics.observe("smx_queue_wait_seconds", {}, r.max_queue_seconds);
  }

  void configure_http() {
    http.new_task_queue = [threads = static_cast<size_t>(std::max(options.http_threads, 1))] {
      return new httplib::ThreadPool(threads);
    };
    http.set_payload_max_length(options.limits.max_body_bytes);
    http.set_keep_alive_max_count(
        static_cast<size_t>(std::max(options.keep_alive_max_requests, 1)));
    http.set_keep_alive_timeout(options.keep_alive_timeout_s);
    http.set_read_timeout(options.read_timeout_s, 0);
    http.set_write_timeout(options.write_timeout_s, 0);
    http.set_tcp_nodelay(true);
    // Remember the listening socket: bind() widens httplib's compiled-in backlog of 5, which
    // drops SYNs (1 s client retries) when a burst of clients connects at once.
    http.set_socket_options([this](socket_t sock) {
      httplib::default_socket_options(sock);
      listen_fd = static_cast<int>(sock);
    });

    http.set_pre_routing_handler([](const httplib::Request&, httplib::Response&) {
      t_request_start = Clock::now();
      t_request_started = true;
      return httplib::Server::HandlerResponse::Unhandled;
    });
    // Called once per answered request, after the response is written.
    http.set_logger([this](const httplib::Request& req, const httplib::Response& res) {
      const std::string route = route_label(req.path);
      const Labels labels = {{"route", route}, {"status", std::to_string(res.status)}};
      metrics.increment("smx_http_requests_total", labels);
      if (res.status >= 400) metrics.increment("smx_http_request_errors_total", labels);
      if (t_request_started)
        metrics.observe("smx_http_request_duration_seconds", {{"route", route}},
                        std::chrono::duration<double>(Clock::now() - t_request_start).count());
      t_request_started = false;
    });
    // Every 4xx/5xx gets a JSON body, including the ones httplib produces itself (404, 413, 400).
    http.set_error_handler(httplib::Server::HandlerWithResponse(
        [this](const httplib::Request& req, httplib::Response& res) {
          if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
          std::string message;
          switch (res.status) {
            case 400:
              message = "bad request: malformed HTTP";
              break;
            case 404:
              message = fmt::format("no route {} {}; see docs/serving.md", req.method, req.path);
              break;
            case 413:
              message = fmt::format(
                  "request body over {} bytes (or over httplib's 8192-byte limit "
                  "for form-encoded bodies: send Content-Type: application/json)",
                  options.limits.max_body_bytes);
              break;
            case 414:
              message = "request URI too long";
              break;
            default:
              message = fmt::format("HTTP status {}", res.status);
          }
          res.set_content(error_json(message), "application/json");
          return httplib::Server::HandlerResponse::Handled;
        }));
    http.set_exception_handler(
        [](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
          std::string message = "internal error";
          try {
            if (ep) std::rethrow_exception(ep);
          } catch (const std::exception& e) {
            message = std::string("internal error: ") + e.what();
          } catch (...) {
          }
          reply_error(res, 500, message);
        });

    http.Get("/healthz", [](const httplib::Request&, httplib::Response& res) {
      reply_json(res, 200, R"({"status":"ok"})");
    });
    http.Get("/readyz", [this](const httplib::Request&, httplib::Response& res) {
      if (draining.load())
        reply_json(res, 503, R"({"status":"shutting down"})");
      else
        reply_json(res, 200, R"({"status":"ready"})");
    });
    http.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
      metrics.set("smx_queue_depth", {}, static_cast<double>(batcher->queue_depth()));
      metrics.set("smx_requests_in_flight", {}, static_cast<double>(in_flight.load()));
      res.set_content(metrics.render(), "text/plain; version=0.0.4; charset=utf-8");
    });
    http.Post("/v1/embed", [this](const httplib::Request& req, httplib::Response& res) {
      handle_inference(req, res, /*classify=*/false);
    });
    http.Post("/v1/classify", [this](const httplib::Request& req, httplib::Response& res) {
      handle_inference(req, res, /*classify=*/true);
    });
    for (const char* route : {"/v1/embed", "/v1/classify"})
      http.Get(route, [](const httplib::Request&, httplib::Response& res) {
        res.set_header("Allow", "POST");
        reply_error(res, 405, "use POST with a JSON body");
      });
  }

  void handle_inference(const httplib::Request& req, httplib::Response& res, bool classify) {
    struct InFlight {
      std::atomic<int64_t>& n;
      explicit InFlight(std::atomic<int64_t>& c) : n(c) { ++n; }
      ~InFlight() { --n; }
    } in_flight_guard(in_flight);
    const auto start = t_request_started ? t_request_start : Clock::now();
    const std::string route = classify ? "/v1/classify" : "/v1/embed";
    // Tell the batcher a job is coming, so queued inputs wait for it (up to max_wait).
    struct Announcement {
      Batcher& batcher;
      bool pending = true;
      explicit Announcement(Batcher& b) : batcher(b) { batcher.announce(); }
      ~Announcement() {
        if (pending) batcher.withdraw();
      }
    } announcement(*batcher);

    const ParsedRequest parsed = classify ? parse_classify_request(req.body, options.limits)
                                          : parse_embed_request(req.body, options.limits);
    if (!parsed.ok()) return reply_error(res, parsed.status, parsed.error);
    if (classify && !bundle->task())
      return reply_error(res, 404,
                         "this model has no task.json (a pre-trained encoder): /v1/classify needs "
                         "a fine-tuned model folder; /v1/embed works");

    std::vector<tasks::EncodedInput> inputs;
    std::vector<bool> truncated;
    inputs.reserve(parsed.inputs.size());
    int64_t tokens = 0;
    const int64_t max_tokens = options.max_input_tokens > 0
                                   ? std::min(options.max_input_tokens, bundle->max_seq_len())
                                   : bundle->max_seq_len();
    for (size_t i = 0; i < parsed.inputs.size(); ++i) {
      EncodedText e = bundle->encode(parsed.inputs[i].text, parsed.inputs[i].text_pair, max_tokens);
      if (e.truncated && !options.truncate)
        return reply_error(
            res, 413,
            fmt::format("{} has more than {} tokens; shorten it, or start the "
                        "server with --truncate to cut long inputs",
                        parsed.batched ? fmt::format("inputs[{}]", i) : "input", max_tokens));
      if (e.truncated) metrics.increment("smx_inputs_truncated_total");
      tokens += e.length();
      truncated.push_back(e.truncated);
      inputs.push_back(std::move(e.encoded));
    }
    const OutputKind kind = classify ? OutputKind::kLogits : output_kind(parsed.pooling);
    announcement.pending = false;
    auto job = batcher->submit(std::move(inputs), kind, /*announced=*/true);
    if (!job) {
      metrics.increment("smx_queue_rejections_total");
      res.set_header("Retry-After", std::to_string(options.retry_after_s));
      return reply_error(res, 503,
                         fmt::format("server busy: more than {} inputs queued; retry later",
                                     options.batcher.max_queue));
    }
    if (!job->wait_until(start + std::chrono::milliseconds(options.request_timeout_ms))) {
      job->cancel();
      metrics.increment("smx_request_timeouts_total");
      return reply_error(res, 504,
                         fmt::format("request not done within {} ms; retry, or send fewer inputs",
                                     options.request_timeout_ms));
    }
    if (!job->error().empty()) return reply_error(res, 500, job->error());
    metrics.increment("smx_inputs_total", {{"route", route}},
                      static_cast<double>(job->inputs().size()));
    metrics.increment("smx_input_tokens_total", {{"route", route}}, static_cast<double>(tokens));

    std::string body = "{\"results\":[";
    for (size_t i = 0; i < job->outputs().size(); ++i) {
      if (i) body += ',';
      body += fmt::format("{{\"index\":{},", i);
      if (classify) {
        body += prediction_fields(job->outputs()[i], *bundle);
      } else {
        body += "\"embedding\":";
        append_json_floats(body, job->outputs()[i], parsed.pooling == Pooling::kTokens);
      }
      body += fmt::format(",\"tokens\":{},\"truncated\":{}}}", job->inputs()[i].input_ids.size(),
                          truncated[i] ? "true" : "false");
    }
    body += fmt::format("],\"usage\":{{\"tokens\":{}}}", tokens);
    if (!classify) body += ",\"pooling\":\"" + to_string(parsed.pooling) + "\"";
    body += "}";
    reply_json(res, 200, body);
  }
};

Server::Server(std::shared_ptr<const ModelBundle> bundle, ServerOptions options)
    : impl_(std::make_unique<Impl>(std::move(bundle), std::move(options))) {
  // A client that hangs up mid-response must cost an EPIPE on that socket, not the process.
  std::signal(SIGPIPE, SIG_IGN);
}

Server::~Server() {
  stop();
  {
    std::unique_lock lock(impl_->state_mutex);
    impl_->state_cv.wait(lock, [this] { return !impl_->running; });
  }
  impl_->batcher->stop();
}

int Server::bind() {
  if (impl_->port >= 0) return impl_->port;
  const auto& o = impl_->options;
  if (o.port == 0) {
    impl_->port = impl_->http.bind_to_any_port(o.host);
  } else {
    impl_->port = impl_->http.bind_to_port(o.host, o.port) ? o.port : -1;
  }
  if (impl_->port <= 0)
    fail("cannot listen on {}:{} (in use? not a local address?); pick another --port or --host",
         o.host, o.port);
  if (impl_->listen_fd >= 0) ::listen(impl_->listen_fd, SOMAXCONN);  // Linux: updates the backlog
  return impl_->port;
}

void Server::run() {
  bind();
  {
    std::lock_guard lock(impl_->state_mutex);
    if (impl_->stop_requested) return;
    impl_->running = true;
  }
  impl_->http.listen_after_bind();  // returns after stop(), once worker threads are joined
  impl_->batcher->stop();           // runs anything still queued
  {
    std::lock_guard lock(impl_->state_mutex);
    impl_->running = false;
    impl_->finished = true;
  }
  impl_->state_cv.notify_all();
}

void Server::stop() {
  {
    std::lock_guard lock(impl_->state_mutex);
    impl_->stop_requested = true;
  }
  impl_->draining.store(true);
  impl_->batcher->drain();
  // listen_after_bind() may not have set is_running yet: retry until run() has returned.
  std::unique_lock lock(impl_->state_mutex);
  while (impl_->running) {
    lock.unlock();
    if (impl_->http.is_running()) impl_->http.stop();
    lock.lock();
    impl_->state_cv.wait_for(lock, std::chrono::milliseconds(10),
                             [this] { return !impl_->running; });
  }
}

int Server::port() const {
  return impl_->port;
}
MetricsRegistry& Server::metrics() {
  return impl_->metrics;
}
const ServerOptions& Server::options() const {
  return impl_->options;
}

}  // namespace smx::serve
