// Who gets in and when: API keys (401 in each API's error shape), overload answered 429 with
// Retry-After (queue full under a bounded flood; the concurrency limit before the body is read),
// CORS, request ids and JSON log lines.
#include <future>
#include <mutex>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "serve/live_server.h"

namespace smx::serve {
namespace {

using json = nlohmann::json;
using live::Clock;
using live::seconds_since;
using ::testing::HasSubstr;

class ServeAccess : public live::LiveServerTest {};

TEST_F(ServeAccess, ApiKeyRequiredEverywhereButHealthAndMetrics) {
  ServerOptions o = default_options();
  o.api_keys.add("s3cret-key", "test");
  o.api_keys.add("second-key", "test");
  std::vector<std::string> log;
  std::mutex log_mutex;
  o.json_logs = true;
  o.log = [&](const std::string& line) {
    std::lock_guard lock(log_mutex);
    log.push_back(line);
  };
  start(o);
  const std::vector<std::pair<std::string, std::string>> routes = {
      {"/v1/embed", R"({"input": "a"})"},
      {"/v1/classify", R"({"input": "a"})"},
      {"/v1/embeddings", R"({"input": "a"})"},
      {"/embed", R"({"inputs": "a"})"},
      {"/embed_all", R"({"inputs": "a"})"},
      {"/predict", R"({"inputs": "a"})"},
      {"/rerank", R"({"query": "a", "texts": ["b"]})"},
      {"/tokenize", R"({"inputs": "a"})"},
      {"/decode", R"({"ids": [7]})"}};
  for (const auto& [path, body] : routes) {
    for (const httplib::Headers& headers :
         {httplib::Headers{}, httplib::Headers{{"Authorization", "Bearer wrong-key"}},
          httplib::Headers{{"Authorization", "s3cret-key"}}}) {
      const auto res = post(path, body, headers);
      ASSERT_TRUE(res) << path;
      EXPECT_EQ(res->status, 401) << path << " -> " << res->body;
      EXPECT_EQ(res->get_header_value("WWW-Authenticate"), "Bearer");
      const json j = json::parse(res->body, nullptr, false);
      ASSERT_TRUE(j.is_object() && j.contains("error")) << res->body;
      if (path == "/v1/embeddings") {
        EXPECT_EQ(j["error"]["code"], "invalid_api_key") << res->body;
      } else if (path[1] != 'v') {
        EXPECT_TRUE(j["error_type"].is_string()) << res->body;
      }
    }
    const auto ok = post(path, body, {{"Authorization", "Bearer s3cret-key"}});
    ASSERT_TRUE(ok);
    EXPECT_EQ(ok->status, 200) << path << " -> " << ok->body;
  }
  const auto other = post("/embed", R"({"inputs": "a"})", {{"Authorization", "Bearer second-key"}});
  ASSERT_TRUE(other);
  EXPECT_EQ(other->status, 200);
  for (const std::string path : {"/v1/models", "/info"}) {
    EXPECT_EQ(get(path)->status, 401) << path;
    EXPECT_EQ(get(path, {{"Authorization", "Bearer s3cret-key"}})->status, 200) << path;
  }
  for (const std::string path : {"/healthz", "/readyz", "/health", "/metrics"})
    EXPECT_EQ(get(path)->status, 200) << path;
  EXPECT_GE(metric("smx_auth_failures_total"), 27);
  stop();  // no more log lines into this test's vector
  std::lock_guard lock(log_mutex);
  ASSERT_FALSE(log.empty());
  for (const auto& line : log) {
    EXPECT_THAT(line, ::testing::Not(HasSubstr("s3cret"))) << "a key reached the log";
    EXPECT_THAT(line, ::testing::Not(HasSubstr("wrong-key")));
  }
}

// A flood over a tiny queue: every answer is 200 (with the right result) or 429 with
// Retry-After; nothing else, and every request is answered.
TEST_F(ServeAccess, QueueFullFloodGets429WithRetryAfterAndNothingElse) {
  ServerOptions o = default_options();
  o.batcher.max_queue = 2;
  o.batcher.max_wait_us = 30000;  // inputs sit in the queue a while: it fills
  o.batcher.wait_only_for_announced = false;
  o.http_threads = 16;
  start(o);
  constexpr int kClients = 16, kRequests = 12;
  std::atomic<int> ok{0}, busy{0}, other{0}, unanswered{0}, no_retry_after{0};
  std::vector<std::thread> clients;
  const auto t0 = Clock::now();
  for (int c = 0; c < kClients; ++c)
    clients.emplace_back([&, c] {
      httplib::Client client("127.0.0.1", port_);
      client.set_read_timeout(20, 0);
      for (int r = 0; r < kRequests; ++r) {
        const std::string text = "text number " + std::to_string(c * kRequests + r);
        const auto res =
            client.Post("/v1/embeddings", json{{"input", text}}.dump(), "application/json");
        if (!res) {
          ++unanswered;
        } else if (res->status == 200) {
          const json j = json::parse(res->body, nullptr, false);
          if (j.is_object() && j["data"].size() == 1)
            ++ok;
          else
            ++other;
        } else if (res->status == 429) {
          ++busy;
          if (res->get_header_value("Retry-After") != "1") ++no_retry_after;
          const json j = json::parse(res->body, nullptr, false);
          if (!j.is_object() || !j["error"].is_object()) ++other;
        } else {
          ++other;
        }
      }
    });
  for (auto& t : clients) t.join();
  std::printf(
      "    flood of %d requests in %.2f s: %d answered 200, %d answered 429, %d other, "
      "%d unanswered\n",
      kClients * kRequests, seconds_since(t0), ok.load(), busy.load(), other.load(),
      unanswered.load());
  EXPECT_EQ(other.load(), 0);
  EXPECT_EQ(unanswered.load(), 0);
  EXPECT_EQ(no_retry_after.load(), 0);
  EXPECT_GT(busy.load(), 0) << "the flood never overran the queue";
  EXPECT_GT(ok.load(), 0);
  EXPECT_EQ(ok.load() + busy.load(), kClients * kRequests);
  EXPECT_EQ(metric("smx_queue_rejections_total"), busy.load());
  // The new routes have their own series.
  EXPECT_EQ(metric("smx_http_requests_total{route=\"/v1/embeddings\",status=\"429\"}"),
            busy.load());
  EXPECT_EQ(metric("smx_http_requests_total{route=\"/v1/embeddings\",status=\"200\"}"), ok.load());
  EXPECT_EQ(metric("smx_inputs_total{route=\"/v1/embeddings\"}"), ok.load());
  EXPECT_EQ(metric("smx_http_request_duration_seconds_count{route=\"/v1/embeddings\"}"),
            kClients * kRequests);
}

// With the only slot taken by a request the model is busy with, the next is refused 429 from its
// head alone: the body is never read (here, never even sent).
TEST_F(ServeAccess, ConcurrencyLimitAnswers429BeforeReadingTheBody) {
  ServerOptions o = default_options();
  o.max_concurrent_requests = 1;
  o.batcher.max_wait_us = 1500000;  // the first request waits in the queue
  o.batcher.wait_only_for_announced = false;
  start(o);
  auto first =
      std::async(std::launch::async, [this] { return post("/embed", R"({"inputs": "first"})"); });
  const auto deadline = Clock::now() + std::chrono::seconds(5);
  while (metric("smx_requests_in_flight") < 1 && Clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  const int fd = live::connect_loopback(port_);
  ASSERT_GE(fd, 0);
  const std::string head =
      "POST /embed HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
      "Content-Length: 1000\r\n\r\n";  // the body never comes
  const auto t0 = Clock::now();
  (void)::send(fd, head.data(), head.size(), MSG_NOSIGNAL);
  const auto reply = live::read_from(fd, 3, "\"error_type\"");
  const double ms = seconds_since(t0) * 1000;
  ::close(fd);
  EXPECT_THAT(reply.data, HasSubstr("HTTP/1.1 429"));
  EXPECT_THAT(reply.data, HasSubstr("Retry-After: 1"));
  EXPECT_THAT(reply.data, HasSubstr("max-concurrent-requests"));
  std::printf("    429 for the concurrency limit after %.1f ms (model busy, body unsent)\n", ms);
  const auto done = first.get();
  ASSERT_TRUE(done);
  EXPECT_EQ(done->status, 200);
  EXPECT_EQ(metric("smx_concurrency_rejections_total"), 1);
  const auto after = post("/embed", R"({"inputs": "after"})");
  ASSERT_TRUE(after);
  EXPECT_EQ(after->status, 200);
}

TEST_F(ServeAccess, CorsRequestIdsAndJsonLogLines) {
  ServerOptions o = default_options();
  o.cors_allow_origin = "https://app.example, https://other.example";
  std::vector<std::string> log;
  std::mutex log_mutex;
  o.json_logs = true;
  o.log = [&](const std::string& line) {
    std::lock_guard lock(log_mutex);
    log.push_back(line);
  };
  start(o);
  auto res = post("/embed", R"({"inputs": "a"})",
                  {{"Origin", "https://app.example"}, {"X-Request-Id", "req-42"}});
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->get_header_value("Access-Control-Allow-Origin"), "https://app.example");
  EXPECT_EQ(res->get_header_value("x-request-id"), "req-42");
  res = post("/embed", R"({"inputs": "a"})", {{"Origin", "https://evil.example"}});
  ASSERT_TRUE(res);
  EXPECT_FALSE(res->has_header("Access-Control-Allow-Origin"));
  const std::string generated = res->get_header_value("x-request-id");
  EXPECT_EQ(generated.size(), 16U);
  res = live::http_request(port_, "OPTIONS", "/v1/embeddings", "",
                           {{"Origin", "https://other.example"},
                            {"Access-Control-Request-Method", "POST"},
                            {"Access-Control-Request-Headers", "authorization, content-type"}});
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 204);
  EXPECT_EQ(res->get_header_value("Access-Control-Allow-Origin"), "https://other.example");
  EXPECT_THAT(res->get_header_value("Access-Control-Allow-Headers"), HasSubstr("authorization"));
  res = post("/embed", R"({"inputs": []})", {{"X-Request-Id", "bad-one"}});
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 400);
  stop();
  std::lock_guard lock(log_mutex);
  ASSERT_EQ(log.size(), 4U);
  for (const auto& line : log) {
    const json j = json::parse(line, nullptr, false);
    ASSERT_TRUE(j.is_object()) << line;
    for (const char* key : {"time", "request_id", "method", "path", "status", "duration_ms"})
      EXPECT_TRUE(j.contains(key)) << key << " missing in " << line;
  }
  const json first = json::parse(log[0]);
  EXPECT_EQ(first["request_id"], "req-42");
  EXPECT_EQ(first["inputs"], 1);
  EXPECT_EQ(json::parse(log[1])["request_id"], generated);
  const json last = json::parse(log[3]);
  EXPECT_EQ(last["status"], 400);
  EXPECT_EQ(last["request_id"], "bad-one");
  EXPECT_THAT(last["error"].get<std::string>(), HasSubstr("empty list"));
}

}  // namespace
}  // namespace smx::serve

namespace smx::serve {
namespace {

// `smx serve` reads keys from --api-key, --api-key-file and SMX_API_KEY, all at once.
TEST_F(ServeAccess, SmxServeTakesKeysFromFlagFileAndEnvironment) {
  const std::string port_file = dir_.file("port");
  const std::string key_file = dir_.write("keys", "# one per line\nfrom-file\n");
  ::setenv("SMX_API_KEY", "from-env", 1);
  live::ChildProcess serve({"serve", "--model", model_dir(), "--port", "0", "--port-file",
                            port_file, "--api-key", "from-flag", "--api-key-file", key_file},
                           dir_.file("serve.log"));
  ::unsetenv("SMX_API_KEY");
  port_ = live::wait_for_port_file(port_file, 20, &serve);
  ASSERT_GT(port_, 0) << serve.log();
  for (const std::string key : {"from-flag", "from-file", "from-env"}) {
    const auto res =
        post("/v1/embeddings", R"({"input": "a"})", {{"Authorization", "Bearer " + key}});
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 200) << key;
  }
  const auto res = post("/v1/embeddings", R"({"input": "a"})", {{"Authorization", "Bearer nope"}});
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 401);
  serve.signal(SIGTERM);
  ASSERT_TRUE(serve.wait(10));
  EXPECT_EQ(serve.status(), 0);
  const std::string log = serve.log();
  EXPECT_THAT(log, HasSubstr("API key required"));
  for (const char* key : {"from-flag", "from-file", "from-env"})
    EXPECT_THAT(log, ::testing::Not(HasSubstr(key))) << "a key reached the log";
}

}  // namespace
}  // namespace smx::serve
