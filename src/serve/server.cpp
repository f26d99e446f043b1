#include "smx/serve/server.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <mutex>
#include <random>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "smx/core/error.h"
#include "smx/serve/api_requests.h"
#include "smx/serve/http_server.h"
#include "smx/serve/json_output.h"
#include "smx/serve/tokenize_offsets.h"

namespace smx::serve {
namespace {

using Clock = std::chrono::steady_clock;
using json = nlohmann::json;

const std::vector<double> kLatencyBuckets = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                             0.25,  0.5,    1,     2.5,  5,     10};
const std::vector<double> kSizeBuckets = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512};
const std::vector<double> kTokenBuckets = {16, 64, 256, 1024, 4096, 16384, 65536};

// Whose error shape a route answers with.
enum class ApiStyle { kSmx, kOpenAI, kTei };

enum class RouteId {
  kHealthz,
  kReadyz,
  kMetrics,
  kEmbedV1,
  kClassifyV1,
  kEmbeddings,
  kModels,
  kEmbed,
  kEmbedAll,
  kPredict,
  kRerank,
  kTokenize,
  kDecode,
  kInfo,
  kHealth,
  kRoot,  // POST /: /predict for fine-tuned models, /embed otherwise (as TEI's / follows its model)
};

struct Route {
  const char* path;
  const char* method;
  RouteId id;
  ApiStyle style;
  bool model;  // runs the model (a concurrency slot, the batcher)
  bool open;   // answered without an API key
};

constexpr Route kRoutes[] = {
    {"/healthz", "GET", RouteId::kHealthz, ApiStyle::kSmx, false, true},
    {"/readyz", "GET", RouteId::kReadyz, ApiStyle::kSmx, false, true},
    {"/metrics", "GET", RouteId::kMetrics, ApiStyle::kSmx, false, true},
    {"/health", "GET", RouteId::kHealth, ApiStyle::kTei, false, true},
    {"/", "GET", RouteId::kHealth, ApiStyle::kTei, false, true},
    {"/ping", "GET", RouteId::kHealth, ApiStyle::kTei, false, true},
    {"/", "POST", RouteId::kRoot, ApiStyle::kTei, true, false},
    {"/embeddings", "POST", RouteId::kEmbeddings, ApiStyle::kOpenAI, true, false},
    {"/v1/embed", "POST", RouteId::kEmbedV1, ApiStyle::kSmx, true, false},
    {"/v1/classify", "POST", RouteId::kClassifyV1, ApiStyle::kSmx, true, false},
    {"/v1/embeddings", "POST", RouteId::kEmbeddings, ApiStyle::kOpenAI, true, false},
    {"/v1/models", "GET", RouteId::kModels, ApiStyle::kOpenAI, false, false},
    {"/embed", "POST", RouteId::kEmbed, ApiStyle::kTei, true, false},
    {"/embed_all", "POST", RouteId::kEmbedAll, ApiStyle::kTei, true, false},
    {"/predict", "POST", RouteId::kPredict, ApiStyle::kTei, true, false},
    {"/rerank", "POST", RouteId::kRerank, ApiStyle::kTei, true, false},
    {"/tokenize", "POST", RouteId::kTokenize, ApiStyle::kTei, false, false},
    {"/decode", "POST", RouteId::kDecode, ApiStyle::kTei, false, false},
    {"/info", "GET", RouteId::kInfo, ApiStyle::kTei, false, false},
};

// The route for a path and method; else the path's first route (then the method is wrong), or
// null for an unknown path.
const Route* find_route(const std::string& path, const std::string& method) {
  const Route* any = nullptr;
  for (const Route& r : kRoutes) {
    if (path != r.path) continue;
    if (method == r.method) return &r;
    if (!any) any = &r;
  }
  return any;
}

// "GET, POST": the methods a path takes.
std::string allowed_methods(const std::string& path) {
  std::string out;
  for (const Route& r : kRoutes)
    if (path == r.path && out.find(r.method) == std::string::npos)
      out += (out.empty() ? "" : ", ") + std::string(r.method);
  return out;
}

// What the server attaches to a request when it reads the head.
struct RequestContext {
  std::string id;                  // x-request-id: the client's, else generated
  const Route* route = nullptr;    // null: no such route
  std::string allow_origin;        // CORS: the Access-Control-Allow-Origin to send, "" none
  std::shared_ptr<void> slot;      // a concurrency slot while the request holds one
  int64_t inputs = 0, tokens = 0;  // for the log line (set by the worker)
};

// The model's work ends with the handler: its slot is freed before the response is written, so a
// client that sends its next request on reading the reply finds the slot free.
struct SlotRelease {
  RequestContext* ctx;
  ~SlotRelease() { ctx->slot.reset(); }
};

RequestContext* context_of(const HttpRequest* req) {
  return req ? static_cast<RequestContext*>(req->context.get()) : nullptr;
}

// A request id a client may pick: printable, no spaces, at most 128 characters.
bool usable_request_id(const std::string& id) {
  if (id.empty() || id.size() > 128) return false;
  return std::all_of(id.begin(), id.end(), [](char c) { return c > 0x20 && c < 0x7f; });
}

std::string new_request_id() {
  thread_local std::mt19937_64 rng(std::random_device{}() ^
                                   static_cast<uint64_t>(Clock::now().time_since_epoch().count()));
  return fmt::format("{:016x}", rng());
}

std::string utc_now() {
  const auto now = std::chrono::system_clock::now();
  const std::time_t t = std::chrono::system_clock::to_time_t(now);
  std::tm tm{};
  gmtime_r(&t, &tm);
  const auto millis =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%S", &tm);
  return fmt::format("{}.{:03d}Z", buffer, static_cast<int>(millis));
}

// OpenAI's error "type" for a status.
const char* openai_type(int status) {
  if (status == 401) return "authentication_error";
  if (status == 429) return "rate_limit_exceeded";
  if (status >= 500) return "server_error";
  return "invalid_request_error";
}

// TEI's error_type for a status (router/src/lib.rs ErrorType; 401 and 404-405 have none there).
const char* tei_type(int status) {
  switch (status) {
    case 429:
      return "Overloaded";
    case 503:
      return "Unhealthy";
    case 401:
      return "Unauthorized";
    default:
      return status >= 500 ? "Backend" : "Validation";
  }
}

void write_error(ApiStyle style, const ApiError& e, HttpResponse& res) {
  res.status = e.status;
  res.content_type = "application/json";
  json body;
  switch (style) {
    case ApiStyle::kOpenAI:
      body = {{"error",
               {{"message", e.message},
                {"type", openai_type(e.status)},
                {"param", e.param.empty() ? json(nullptr) : json(e.param)},
                {"code", e.code.empty() ? json(nullptr) : json(e.code)}}}};
      break;
    case ApiStyle::kTei:
      body = {{"error", e.message}, {"error_type", tei_type(e.status)}};
      break;
    case ApiStyle::kSmx:
      body = {{"error", e.message}};
      break;
  }
  res.body = dump_json(body);
}

ApiStyle style_of(const HttpRequest* req) {
  const RequestContext* ctx = context_of(req);
  return ctx && ctx->route ? ctx->route->style : ApiStyle::kSmx;
}

// Held while a model request runs; counts requests in flight.
struct Slot {
  std::atomic<int64_t>& counter;
  explicit Slot(std::atomic<int64_t>& c) : counter(c) { ++counter; }
  ~Slot() { --counter; }
  Slot(const Slot&) = delete;
  Slot& operator=(const Slot&) = delete;
};

double sigmoid(double x) {
  return 1.0 / (1.0 + std::exp(-x));
}

std::vector<double> softmax(const std::vector<float>& v) {
  std::vector<double> out(v.size());
  if (v.empty()) return out;
  const double top = *std::max_element(v.begin(), v.end());
  double total = 0;
  for (size_t i = 0; i < v.size(); ++i) total += out[i] = std::exp(double(v[i]) - top);
  for (double& x : out) x /= total;
  return out;
}

// A float as JSON (finite values only reach here).
json score_json(double v) {
  return json(static_cast<float>(v));
}

}  // namespace

struct Server::Impl {
  std::shared_ptr<const ModelBundle> bundle;
  ServerOptions options;
  std::string model_name;
  Pooling pooling = Pooling::kCls;
  int64_t created = 0;  // unix seconds at startup (/v1/models)
  std::shared_ptr<InferenceEngine> engine;
  MetricsRegistry metrics;
  std::unique_ptr<Batcher> batcher;
  std::unique_ptr<HttpServer> http;
  std::atomic<bool> draining{false};
  std::atomic<int64_t> in_flight{0};

  std::mutex state_mutex;
  std::condition_variable state_cv;
  bool stop_requested = false, running = false;

  Impl(std::shared_ptr<const ModelBundle> b, ServerOptions o)
      : bundle(std::move(b)), options(std::move(o)) {
    model_name = !options.served_model_name.empty() ? options.served_model_name
                 : !bundle->folder_name().empty()   ? bundle->folder_name()
                                                    : bundle->config().name;
    pooling = options.pooling ? *options.pooling : bundle->default_pooling();
    created = static_cast<int64_t>(std::time(nullptr));
    if (!options.log)
      options.log = [](const std::string& line) { std::fprintf(stderr, "%s\n", line.c_str()); };
    engine = std::make_shared<InferenceEngine>(bundle, options.precision);
    register_metrics();
    batcher = std::make_unique<Batcher>(engine, options.batcher,
                                        [this](const BatchReport& r) { on_batch(r); });
    HttpServerOptions h;
    h.host = options.host;
    h.port = options.port;
    h.worker_threads = std::max(options.http_threads, 1);
    h.max_connections = static_cast<size_t>(std::max<int64_t>(options.max_connections, 1));
    h.max_body_bytes = options.limits.max_body_bytes;
    h.request_read_timeout_ms = int64_t{1000} * std::max(options.read_timeout_s, 1);
    h.idle_timeout_ms = int64_t{1000} * std::max(options.keep_alive_timeout_s, 1);
    h.write_timeout_ms = int64_t{1000} * std::max(options.write_timeout_s, 1);
    h.keep_alive_max_requests = std::max(options.keep_alive_max_requests, 1);
    http = std::make_unique<HttpServer>(
        h, [this](HttpRequest& req, HttpResponse& res) { return on_head(req, res); },
        [this](const HttpRequest& req, HttpResponse& res) { handle(req, res); },
        [this](const HttpRequest* req, const HttpResponse& res) { on_done(req, res); },
        [this](const HttpRequest* req, const std::string& message, HttpResponse& res) {
          write_error(style_of(req), ApiError{res.status, message, "", ""}, res);
          decorate(req, res);
        });
  }

  void register_metrics() {
    metrics.add_counter("smx_http_requests_total", "HTTP requests answered, by route and status");
    metrics.add_counter("smx_http_request_errors_total",
                        "HTTP requests answered with status >= 400, by route and status");
    metrics.add_histogram("smx_http_request_duration_seconds",
                          "Time from the request's first byte to its response, by route",
                          kLatencyBuckets);
    metrics.add_counter("smx_inputs_total", "Inputs run through the model, by route");
    metrics.add_counter("smx_input_tokens_total", "Real tokens of the inputs run, by route");
    metrics.add_counter("smx_inputs_truncated_total", "Inputs cut to max_input_tokens");
    metrics.add_counter("smx_queue_rejections_total", "Requests refused with 429: queue full");
    metrics.add_counter("smx_concurrency_rejections_total",
                        "Requests refused with 429: --max-concurrent-requests reached");
    metrics.add_counter("smx_auth_failures_total", "Requests refused with 401");
    metrics.add_counter("smx_request_timeouts_total", "Requests answered 504: request timeout");
    metrics.add_counter("smx_nonfinite_outputs_total",
                        "Requests answered 500: the model produced NaN or Inf");
    metrics.add_gauge("smx_queue_depth", "Inputs waiting for a model call");
    metrics.add_gauge("smx_requests_in_flight", "Model requests admitted and not yet answered");
    metrics.add_gauge("smx_open_connections", "Open HTTP connections");
    metrics.add_histogram("smx_batch_size", "Inputs per model call", kSizeBuckets);
    metrics.add_histogram("smx_batch_padded_tokens", "Padded tokens per model call", kTokenBuckets);
    metrics.add_counter("smx_batch_tokens_total", "Real tokens run through the model");
    metrics.add_counter("smx_batch_padded_tokens_total", "Padded tokens run through the model");
    metrics.add_histogram("smx_batch_duration_seconds", "Model call time", kLatencyBuckets);
    metrics.add_histogram("smx_queue_wait_seconds",
                          "Longest time an input of a batch waited in the queue", kLatencyBuckets);
    metrics.set("smx_queue_depth", {}, 0);
    metrics.set("smx_requests_in_flight", {}, 0);
    metrics.set("smx_open_connections", {}, 0);
  }

  void on_batch(const BatchReport& r) {
    metrics.observe("smx_batch_size", {}, static_cast<double>(r.inputs));
    metrics.observe("smx_batch_padded_tokens", {}, static_cast<double>(r.padded_tokens));
    metrics.increment("smx_batch_tokens_total", {}, static_cast<double>(r.tokens));
    metrics.increment("smx_batch_padded_tokens_total", {}, static_cast<double>(r.padded_tokens));
    metrics.observe("smx_batch_duration_seconds", {}, r.seconds);
    metrics.observe("smx_queue_wait_seconds", {}, r.max_queue_seconds);
  }

  // ---- every response: request id, CORS ----
  void decorate(const HttpRequest* req, HttpResponse& res) const {
    const RequestContext* ctx = context_of(req);
    if (!ctx) return;
    res.set_header("x-request-id", ctx->id);
    if (!ctx->allow_origin.empty()) {
      res.set_header("Access-Control-Allow-Origin", ctx->allow_origin);
      if (ctx->allow_origin != "*") res.set_header("Vary", "Origin");
    }
  }

  std::string cors_origin_for(const std::string& origin) const {
    const std::string& allowed = options.cors_allow_origin;
    if (allowed.empty() || origin.empty()) return "";
    if (allowed == "*") return "*";
    size_t at = 0;
    while (at <= allowed.size()) {
      const size_t end = std::min(allowed.find(',', at), allowed.size());
      std::string item = allowed.substr(at, end - at);
      item.erase(0, item.find_first_not_of(' '));
      item.erase(item.find_last_not_of(' ') + 1);
      if (item == origin) return origin;
      at = end + 1;
    }
    return "";
  }

  void answer(const HttpRequest& req, HttpResponse& res, int status, std::string body,
              std::string content_type = "application/json") const {
    res.status = status;
    res.body = std::move(body);
    res.content_type = std::move(content_type);
    decorate(&req, res);
  }

  void answer_error(const HttpRequest& req, HttpResponse& res, const ApiError& e) const {
    write_error(style_of(&req), e, res);
    decorate(&req, res);
  }

  // ---- the head of every request (I/O thread) ----
  bool on_head(HttpRequest& req, HttpResponse& res) {
    auto ctx = std::make_shared<RequestContext>();
    const std::string& client_id = req.header("x-request-id");
    ctx->id = usable_request_id(client_id) ? client_id : new_request_id();
    ctx->route = find_route(req.path, req.method);
    ctx->allow_origin = cors_origin_for(req.header("origin"));
    req.context = ctx;

    // CORS preflight: answered without a key (browsers send none on preflight).
    if (req.method == "OPTIONS" && !options.cors_allow_origin.empty() &&
        req.has_header("access-control-request-method") && ctx->route) {
      res.set_header("Access-Control-Allow-Methods", allowed_methods(req.path) + ", OPTIONS");
      res.set_header("Access-Control-Allow-Headers", "authorization, content-type, x-request-id");
      res.set_header("Access-Control-Max-Age", "600");
      answer(req, res, ctx->allow_origin.empty() ? 403 : 204, "", "");
      return true;
    }
    if (!ctx->route) {
      answer_error(
          req, res,
          {404,
           fmt::format("no route {} {}; see docs/serving.md", req.method, req.path.substr(0, 200)),
           "", ""});
      return true;
    }
    const Route& route = *ctx->route;
    if (req.method != route.method) {
      const std::string allow = allowed_methods(req.path);
      res.set_header("Allow", allow);
      answer_error(req, res,
                   {405,
                    fmt::format("{} takes {} only{}", route.path, allow,
                                allow == "POST" ? " with a JSON body" : ""),
                    "", ""});
      return true;
    }
    if (!route.open && !options.api_keys.empty() &&
        !options.api_keys.accepts(req.header("authorization"))) {
      metrics.increment("smx_auth_failures_total");
      res.set_header("WWW-Authenticate", "Bearer");
      answer_error(
          req, res,
          {401,
           req.has_header("authorization") ? "invalid API key; send Authorization: Bearer <key>"
                                           : "missing API key; send Authorization: Bearer <key>",
           "", "invalid_api_key"});
      return true;
    }
    switch (route.id) {  // cheap answers, right here
      case RouteId::kHealthz:
        answer(req, res, 200, R"({"status":"ok"})");
        return true;
      case RouteId::kHealth:
        if (draining.load())
          answer_error(req, res, {503, "shutting down", "", ""});
        else
          answer(req, res, 200, "", "");
        return true;
      case RouteId::kReadyz:
        if (draining.load())
          answer(req, res, 503, R"({"status":"shutting down"})");
        else
          answer(req, res, 200, R"({"status":"ready"})");
        return true;
      case RouteId::kMetrics:
        metrics.set("smx_queue_depth", {}, static_cast<double>(batcher->queue_depth()));
        metrics.set("smx_requests_in_flight", {}, static_cast<double>(in_flight.load()));
        metrics.set("smx_open_connections", {}, static_cast<double>(http->open_connections()));
        answer(req, res, 200, metrics.render(), "text/plain; version=0.0.4; charset=utf-8");
        return true;
      case RouteId::kModels:
        answer(req, res, 200, models_body());
        return true;
      case RouteId::kInfo:
        answer(req, res, 200, info_body());
        return true;
      default:
        break;
    }
    if (route.model) {
      // Refused before the body is read: the client learns at once and retries.
      if (in_flight.load() >= options.max_concurrent_requests) {
        metrics.increment("smx_concurrency_rejections_total");
        res.set_header("Retry-After", std::to_string(options.retry_after_s));
        answer_error(
            req, res,
            {429,
             fmt::format("server busy: {} requests in flight (--max-concurrent-requests "
                         "{}); retry after {} s",
                         in_flight.load(), options.max_concurrent_requests, options.retry_after_s),
             "", "rate_limit_exceeded"});
        return true;
      }
      ctx->slot = std::make_shared<Slot>(in_flight);
    }
    return false;
  }

  // ---- after each response (I/O thread) ----
  void on_done(const HttpRequest* req, const HttpResponse& res) {
    const RequestContext* ctx = context_of(req);
    const std::string route = ctx && ctx->route ? ctx->route->path : "other";
    const Labels labels = {{"route", route}, {"status", std::to_string(res.status)}};
    metrics.increment("smx_http_requests_total", labels);
    if (res.status >= 400) metrics.increment("smx_http_request_errors_total", labels);
    const double seconds =
        req ? std::chrono::duration<double>(Clock::now() - req->start).count() : 0.0;
    if (req) metrics.observe("smx_http_request_duration_seconds", {{"route", route}}, seconds);
    if (!options.json_logs) return;
    json line = {{"time", utc_now()},
                 {"level", res.status >= 500   ? "error"
                           : res.status >= 400 ? "warn"
                                               : "info"},
                 {"request_id", ctx ? json(ctx->id) : json(nullptr)},
                 {"method", req ? json(req->method) : json(nullptr)},
                 {"path", req ? json(req->path.substr(0, 200)) : json(nullptr)},
                 {"route", route},
                 {"status", res.status},
                 {"duration_ms", std::round(seconds * 1e6) / 1e3},
                 {"remote", req ? json(req->remote) : json(nullptr)},
                 {"bytes_out", res.body.size()}};
    if (ctx && ctx->inputs > 0) {
      line["inputs"] = ctx->inputs;
      line["tokens"] = ctx->tokens;
    }
    if (res.status >= 400 && res.content_type == "application/json") {
      // The error message only: request bodies and headers (keys) are never logged.
      const json body = json::parse(res.body, nullptr, false);
      if (body.is_object() && body.contains("error"))
        line["error"] =
            body["error"].is_object() ? json(body["error"].value("message", "")) : body["error"];
    }
    options.log(dump_json(line));
  }

  std::string models_body() const {
    return dump_json({{"object", "list"},
                      {"data", json::array({{{"id", model_name},
                                             {"object", "model"},
                                             {"created", created},
                                             {"owned_by", "smx"}}})}});
  }

  std::string info_body() const {
    json model_type;
    const auto& task = bundle->task();
    if (task) {
      json id2label = json::object(), label2id = json::object();
      for (int64_t i = 0; i < bundle->num_outputs(); ++i) {
        const std::string label = static_cast<size_t>(i) < task->labels.size()
                                      ? task->labels[static_cast<size_t>(i)]
                                      : fmt::format("LABEL_{}", i);
        id2label[std::to_string(i)] = label;
        label2id[label] = i;
      }
      const bool reranker = !task->has_classes() || task->kind == tasks::TaskKind::kRanking;
      model_type = {
          {reranker ? "reranker" : "classifier", {{"id2label", id2label}, {"label2id", label2id}}}};
    } else {
      model_type = {{"embedding", {{"pooling", to_string(pooling)}}}};
    }
    return dump_json(
        {{"model_id", model_name},
         {"model_sha", nullptr},
         {"model_dtype", options.precision == Precision::kBf16 ? "bfloat16" : "float32"},
         {"served_model_name", model_name},
         {"model_type", model_type},
         {"max_concurrent_requests", options.max_concurrent_requests},
         {"max_input_length", max_tokens()},
         {"max_batch_tokens", options.batcher.max_batch_tokens},
         {"max_batch_requests", options.batcher.max_batch_size},
         {"max_client_batch_size", options.limits.max_inputs},
         {"auto_truncate", options.truncate},
         {"tokenization_workers", options.http_threads},
         {"version", "smx"},
         {"sha", nullptr},
         {"docker_label", nullptr}});
  }

  int64_t max_tokens() const {
    return options.max_input_tokens > 0 ? std::min(options.max_input_tokens, bundle->max_seq_len())
                                        : bundle->max_seq_len();
  }

  // ---- model requests (worker threads) ----
  struct Encoded {
    std::vector<tasks::EncodedInput> inputs;
    std::vector<bool> truncated;
    std::vector<int64_t> lengths;  // tokens per input
    int64_t tokens = 0;
  };

  // Tokenizes; an input over the token limit is cut (`truncate`) or refused with `too_long`.
  Encoded encode(const std::vector<ModelInput>& inputs, bool truncate, bool keep_end, int too_long,
                 const std::string& field) {
    Encoded out;
    const int64_t limit = max_tokens();
    for (size_t i = 0; i < inputs.size(); ++i) {
      const ModelInput& in = inputs[i];
      const std::string where = inputs.size() > 1 ? fmt::format("{}[{}]", field, i) : field;
      EncodedText e;
      if (in.ids) {
        try {
          e = bundle->encode_ids(*in.ids, limit, keep_end);
        } catch (const Error& error) {
          throw ApiError{422, fmt::format("{}: {}", where, error.what()), field, ""};
        }
      } else if (keep_end && !in.text_pair) {
        e = bundle->encode_keep_end(in.text, limit);
      } else {
        e = bundle->encode(in.text, in.text_pair, limit);
      }
      if (e.truncated && !truncate)
        throw ApiError{too_long,
                       fmt::format("{} has more than {} tokens, the limit per input; shorten it, "
                                   "or ask for truncation (\"truncate\": true, or start the "
                                   "server with --truncate)",
                                   where, limit),
                       field, "context_length_exceeded"};
      if (e.truncated) metrics.increment("smx_inputs_truncated_total");
      out.tokens += e.length();
      out.lengths.push_back(e.length());
      out.truncated.push_back(e.truncated);
      out.inputs.push_back(std::move(e.encoded));
    }
    return out;
  }

  // Tells the batcher a job is coming while the request is parsed and tokenized, so queued
  // inputs wait for it (up to max_wait); withdrawn unless the job is submitted.
  struct Announcement {
    Batcher& batcher;
    bool pending = true;
    explicit Announcement(Batcher& b) : batcher(b) { batcher.announce(); }
    ~Announcement() {
      if (pending) batcher.withdraw();
    }
    Announcement(const Announcement&) = delete;
    Announcement& operator=(const Announcement&) = delete;
  };

  // Queues the inputs and waits; errors as ApiError (429 queue full, 504, 500 incl. NaN/Inf).
  std::vector<ExampleOutput> run_model(const HttpRequest& req, Encoded& encoded, OutputKind kind,
                                       Announcement& announcement) {
    const auto n = static_cast<int64_t>(encoded.inputs.size());
    const int64_t tokens = encoded.tokens;
    const std::string route = context_of(&req)->route->path;
    announcement.pending = false;
    auto job = batcher->submit(std::move(encoded.inputs), kind, /*announced=*/true);
    if (!job) {
      metrics.increment("smx_queue_rejections_total");
      throw ApiError{429,
                     fmt::format("server busy: more than {} inputs queued (--max-queue); retry "
                                 "after {} s",
                                 options.batcher.max_queue, options.retry_after_s),
                     "", "rate_limit_exceeded"};
    }
    if (!job->wait_until(req.start + std::chrono::milliseconds(options.request_timeout_ms))) {
      job->cancel();
      metrics.increment("smx_request_timeouts_total");
      throw ApiError{504,
                     fmt::format("request not done within {} ms; retry, or send fewer inputs",
                                 options.request_timeout_ms),
                     "", "timeout"};
    }
    if (!job->error().empty()) throw ApiError{500, job->error(), "", "model_error"};
    for (size_t i = 0; i < job->outputs().size(); ++i)
      if (!job->outputs()[i].finite()) {
        metrics.increment("smx_nonfinite_outputs_total");
        throw ApiError{500,
                       fmt::format("the model produced non-finite values (NaN or Inf) for input "
                                   "{}; its weights are probably corrupt: check the model folder",
                                   i),
                       "", "nonfinite_output"};
      }
    metrics.increment("smx_inputs_total", {{"route", route}}, static_cast<double>(n));
    metrics.increment("smx_input_tokens_total", {{"route", route}}, static_cast<double>(tokens));
    if (auto* ctx = context_of(&req)) {
      ctx->inputs = n;
      ctx->tokens = tokens;
    }
    return job->outputs();
  }

  void handle(const HttpRequest& req, HttpResponse& res) {
    RequestContext* ctx = context_of(&req);
    if (!ctx || !ctx->route) return answer_error(req, res, {404, "no such route", "", ""});
    const SlotRelease release{ctx};
    try {
      switch (ctx->route->id) {
        case RouteId::kEmbedV1:
          return handle_native(req, res, false);
        case RouteId::kClassifyV1:
          return handle_native(req, res, true);
        case RouteId::kEmbeddings:
          return handle_openai(req, res);
        case RouteId::kEmbed:
        case RouteId::kEmbedAll:
          return handle_tei_embed(req, res, ctx->route->id == RouteId::kEmbedAll);
        case RouteId::kRoot:
          return bundle->task() ? handle_tei_predict(req, res, /*always_nested=*/true)
                                : handle_tei_embed(req, res, false);
        case RouteId::kPredict:
          return handle_tei_predict(req, res);
        case RouteId::kRerank:
          return handle_tei_rerank(req, res);
        case RouteId::kTokenize:
          return handle_tei_tokenize(req, res);
        case RouteId::kDecode:
          return handle_tei_decode(req, res);
        default:
          return answer_error(req, res, {404, "no such route", "", ""});
      }
    } catch (const ApiError& e) {
      if (e.status == 429) res.set_header("Retry-After", std::to_string(options.retry_after_s));
      answer_error(req, res, e);
    }
  }

  int64_t width() const { return bundle->config().d_model; }

  void check_dimensions(const std::optional<int64_t>& dimensions) const {
    if (dimensions && *dimensions > width())
      throw ApiError{400,
                     fmt::format("'dimensions' is {} but this model's embeddings have {}; ask for "
                                 "at most {}",
                                 *dimensions, width(), width()),
                     "dimensions", ""};
  }

  // The embedding an OpenAI / TEI embed route returns: cut to `dimensions`, then L2-normalised.
  static std::vector<float> finish_embedding(const ExampleOutput& out,
                                             const std::optional<int64_t>& dimensions,
                                             bool normalize) {
    std::vector<float> v = out.values;
    if (dimensions && *dimensions < static_cast<int64_t>(v.size()))
      v.resize(static_cast<size_t>(*dimensions));
    if (normalize) l2_normalize(v);
    return v;
  }

  static void append_floats(std::string& body, const std::vector<float>& v) {
    ExampleOutput row;
    row.values = v;
    row.cols = static_cast<int64_t>(v.size());
    append_json_floats(body, row);
  }

  std::string label_of(size_t index) const {
    const auto& task = bundle->task();
    if (task && index < task->labels.size()) return task->labels[index];
    return fmt::format("LABEL_{}", index);
  }

  void require_task(const char* route) const {
    if (!bundle->task())
      throw ApiError{400,
                     fmt::format("this model has no task.json (a pre-trained encoder): {} needs a "
                                 "fine-tuned classifier or regressor; /embed works",
                                 route),
                     "", ""};
  }

  void handle_native(const HttpRequest& req, HttpResponse& res, bool classify) {
    Announcement announcement(*batcher);
    ParsedRequest parsed = classify ? parse_classify_request(req.body, options.limits)
                                    : parse_embed_request(req.body, options.limits);
    if (!parsed.ok()) throw ApiError{parsed.status, parsed.error, "", ""};
    // The server's pooling (--pooling, else the folder's) and the folder's normalisation unless
    // the request names its own.
    if (!parsed.pooling_given) parsed.pooling = pooling;
    const bool normalize = parsed.pooling != Pooling::kTokens &&
                           parsed.normalize.value_or(bundle->default_normalize());
    if (classify && !bundle->task())
      throw ApiError{404,
                     "this model has no task.json (a pre-trained encoder): /v1/classify needs "
                     "a fine-tuned model folder; /v1/embed works",
                     "", ""};
    std::vector<ModelInput> inputs;
    for (const auto& in : parsed.inputs) inputs.push_back({in.text, in.text_pair, std::nullopt});
    Encoded encoded =
        encode(inputs, options.truncate, false, 413, parsed.batched ? "inputs" : "input");
    const auto lengths = encoded.lengths;
    const auto truncated = encoded.truncated;
    const int64_t tokens = encoded.tokens;
    const auto outputs = run_model(
        req, encoded, classify ? OutputKind::kLogits : output_kind(parsed.pooling), announcement);
    std::string body = "{\"results\":[";
    for (size_t i = 0; i < outputs.size(); ++i) {
      if (i) body += ',';
      body += fmt::format("{{\"index\":{},", i);
      if (classify) {
        body += prediction_fields(outputs[i], *bundle);
      } else if (normalize) {
        body += "\"embedding\":";
        append_floats(body, finish_embedding(outputs[i], std::nullopt, true));
      } else {
        body += "\"embedding\":";
        append_json_floats(body, outputs[i], parsed.pooling == Pooling::kTokens);
      }
      body += fmt::format(",\"tokens\":{},\"truncated\":{}}}", lengths[i],
                          truncated[i] ? "true" : "false");
    }
    body += fmt::format("],\"usage\":{{\"tokens\":{}}}", tokens);
    if (!classify) body += ",\"pooling\":\"" + to_string(parsed.pooling) + "\"";
    body += "}";
    answer(req, res, 200, std::move(body));
  }

  void handle_openai(const HttpRequest& req, HttpResponse& res) {
    Announcement announcement(*batcher);
    const OpenAIEmbeddingsRequest r = parse_openai_embeddings(req.body, options.limits);
    if (r.model && *r.model != model_name)
      throw ApiError{404,
                     fmt::format("the model '{}' is not served here; this server serves '{}' "
                                 "(GET /v1/models)",
                                 r.model->substr(0, 200), model_name),
                     "model", "model_not_found"};
    check_dimensions(r.dimensions);
    Encoded encoded = encode(r.inputs, options.truncate, false, 422, "input");
    const int64_t tokens = encoded.tokens;
    const auto outputs = run_model(req, encoded, output_kind(pooling), announcement);
    std::string body = "{\"object\":\"list\",\"data\":[";
    for (size_t i = 0; i < outputs.size(); ++i) {
      if (i) body += ',';
      const std::vector<float> v = finish_embedding(outputs[i], r.dimensions, true);
      body += fmt::format("{{\"object\":\"embedding\",\"index\":{},\"embedding\":", i);
      if (r.base64)
        body += "\"" + base64_floats(v) + "\"";
      else
        append_floats(body, v);
      body += '}';
    }
    body +=
        "],\"model\":" + dump_json(model_name) +
        fmt::format(",\"usage\":{{\"prompt_tokens\":{},\"total_tokens\":{}}}}}", tokens, tokens);
    answer(req, res, 200, std::move(body));
  }

  void handle_tei_embed(const HttpRequest& req, HttpResponse& res, bool embed_all) {
    Announcement announcement(*batcher);
    const TeiEmbedRequest r = parse_tei_embed(req.body, options.limits, embed_all);
    check_dimensions(r.dimensions);
    Encoded encoded = encode(r.inputs, r.truncation.truncate.value_or(options.truncate),
                             r.truncation.left, 422, "inputs");
    const auto outputs = run_model(
        req, encoded, embed_all ? OutputKind::kTokens : output_kind(pooling), announcement);
    std::string body = "[";
    for (size_t i = 0; i < outputs.size(); ++i) {
      if (i) body += ',';
      if (embed_all)
        append_json_floats(body, outputs[i], /*force_rows=*/true);
      else
        append_floats(body, finish_embedding(outputs[i], r.dimensions, r.normalize));
    }
    body += ']';
    answer(req, res, 200, std::move(body));
  }

  // Class (or score) predictions for one input's logits, best first.
  json predictions(const ExampleOutput& out, bool raw) const {
    const auto& task = bundle->task();
    std::vector<double> scores(out.values.begin(), out.values.end());
    if (!raw) {
      if (task && task->has_classes())
        scores = softmax(out.values);
      else
        for (double& s : scores) s = sigmoid(s);
    }
    std::vector<size_t> order(scores.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(),
                     [&](size_t a, size_t b) { return scores[a] > scores[b]; });
    json list = json::array();
    for (const size_t i : order)
      list.push_back({{"score", score_json(scores[i])}, {"label", label_of(i)}});
    return list;
  }

  // `always_nested`: one list of predictions per input even for a single input, the shape Hugging
  // Face's inference clients read from POST / (text_classification).
  void handle_tei_predict(const HttpRequest& req, HttpResponse& res, bool always_nested = false) {
    Announcement announcement(*batcher);
    const TeiPredictRequest r = parse_tei_predict(req.body, options.limits);
    require_task("/predict");
    Encoded encoded = encode(r.inputs, r.truncation.truncate.value_or(options.truncate),
                             r.truncation.left, 422, "inputs");
    const auto outputs = run_model(req, encoded, OutputKind::kLogits, announcement);
    json body = json::array();
    for (const auto& out : outputs) body.push_back(predictions(out, r.raw_scores));
    answer(req, res, 200, dump_json(r.batched || always_nested ? body : body[0]));
  }

  // A (query, text) pair's relevance: a one-output regressor / ranker's score (sigmoid unless
  // raw), or a classifier's last class (probability, or logit when raw).
  double relevance(const ExampleOutput& out, bool raw) const {
    const auto& task = bundle->task();
    if (task->has_classes()) {
      if (raw) return out.values.back();
      return softmax(out.values).back();
    }
    return raw ? out.values[0] : sigmoid(out.values[0]);
  }

  void handle_tei_rerank(const HttpRequest& req, HttpResponse& res) {
    Announcement announcement(*batcher);
    const TeiRerankRequest r = parse_tei_rerank(req.body, options.limits);
    require_task("/rerank");
    std::vector<ModelInput> pairs;
    for (const auto& text : r.texts) pairs.push_back({r.query, text, std::nullopt});
    Encoded encoded = encode(pairs, r.truncation.truncate.value_or(options.truncate),
                             r.truncation.left, 422, "texts");
    const auto outputs = run_model(req, encoded, OutputKind::kLogits, announcement);
    std::vector<double> scores;
    for (const auto& out : outputs) scores.push_back(relevance(out, r.raw_scores));
    std::vector<size_t> order(scores.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(),
                     [&](size_t a, size_t b) { return scores[a] > scores[b]; });
    json body = json::array();
    for (const size_t i : order) {
      json rank = {{"index", i}};
      if (r.return_text) rank["text"] = r.texts[i];
      rank["score"] = score_json(scores[i]);
      body.push_back(rank);
    }
    answer(req, res, 200, dump_json(body));
  }

  void handle_tei_tokenize(const HttpRequest& req, HttpResponse& res) {
    const TeiTokenizeRequest r = parse_tei_tokenize(req.body, options.limits);
    json body = json::array();
    for (const auto& text : r.inputs) {
      json tokens = json::array();
      for (const TokenSpan& t : token_spans(bundle->tokenizer(), text, r.add_special_tokens))
        tokens.push_back({{"id", t.id},
                          {"text", t.text},
                          {"special", t.special},
                          {"start", t.start ? json(*t.start) : json(nullptr)},
                          {"stop", t.stop ? json(*t.stop) : json(nullptr)}});
      body.push_back(tokens);
    }
    answer(req, res, 200, dump_json(body));
  }

  void handle_tei_decode(const HttpRequest& req, HttpResponse& res) {
    const TeiDecodeRequest r = parse_tei_decode(req.body, options.limits);
    const Tokenizer& tok = bundle->tokenizer();
    const std::vector<int32_t> specials = {tok.pad_id(), tok.unk_id(), tok.bos_id(), tok.eos_id(),
                                           tok.cls_id(), tok.sep_id(), tok.mask_id()};
    json body = json::array();
    for (size_t k = 0; k < r.ids.size(); ++k) {
      std::vector<int32_t> ids;
      for (size_t i = 0; i < r.ids[k].size(); ++i) {
        const int64_t id = r.ids[k][i];
        if (id >= tok.vocab_size())
          throw ApiError{422,
                         fmt::format("ids{}[{}] = {} is outside the vocabulary (0 to {})",
                                     r.ids.size() > 1 ? fmt::format("[{}]", k) : "", i, id,
                                     tok.vocab_size() - 1),
                         "ids", ""};
        const auto id32 = static_cast<int32_t>(id);
        if (r.skip_special_tokens &&
            std::find(specials.begin(), specials.end(), id32) != specials.end())
          continue;
        ids.push_back(id32);
      }
      body.push_back(tok.decode(ids));
    }
    answer(req, res, 200, dump_json(body));
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
  return impl_->http->bind();
}

void Server::run() {
  bind();
  {
    std::lock_guard lock(impl_->state_mutex);
    if (impl_->stop_requested) return;
    impl_->running = true;
  }
  try {
    impl_->http->run();  // returns after stop(), once handled requests are answered
  } catch (...) {
    impl_->batcher->stop();
    std::lock_guard lock(impl_->state_mutex);
    impl_->running = false;
    impl_->state_cv.notify_all();
    throw;
  }
  impl_->batcher->stop();  // runs anything still queued
  {
    std::lock_guard lock(impl_->state_mutex);
    impl_->running = false;
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
  impl_->http->stop();
}

int Server::port() const {
  return impl_->http->port();
}
MetricsRegistry& Server::metrics() {
  return impl_->metrics;
}
const ServerOptions& Server::options() const {
  return impl_->options;
}
const std::string& Server::model_name() const {
  return impl_->model_name;
}

}  // namespace smx::serve
