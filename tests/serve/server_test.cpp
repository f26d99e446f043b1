// The HTTP server live on a loopback port: good requests, every kind of bad input (then a good
// request still works), slow and half-closed clients over raw sockets, concurrent clients, the
// metrics, 429/504, and graceful shutdown (in process and through SIGTERM to `smx serve`).
#include <httplib.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <future>
#include <thread>
#include <tuple>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "serve/live_server.h"
#include "smx/serve/inference.h"
#include "smx/serve/server.h"
#include "support/model_folder.h"
#include "support/scratch_dir.h"
#include "support/test_util.h"
#include "support/tiny_tokenizer.h"

namespace smx::serve {
namespace {

using json = nlohmann::json;
using smx::testing::max_abs_diff;
using ::testing::HasSubstr;
using Clock = std::chrono::steady_clock;

// A raw TCP exchange: send `data`, optionally half-close, read until the server closes or
// `timeout` passes. Returns what was read and whether the server closed the connection.
struct RawResult {
  std::string response;
  bool closed_by_server = false;
  double seconds = 0;
};

RawResult raw_exchange(int port, const std::string& data, bool half_close, double timeout_s,
                       double pause_before_close_s = 0) {
  RawResult r;
  const int fd = live::connect_loopback(port);
  if (fd < 0) return r;
  const auto start = Clock::now();
  if (!data.empty()) (void)::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
  if (pause_before_close_s > 0)
    std::this_thread::sleep_for(std::chrono::duration<double>(pause_before_close_s));
  if (half_close) ::shutdown(fd, SHUT_WR);
  timeval tv{0, 100000};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  char buffer[4096];
  while (std::chrono::duration<double>(Clock::now() - start).count() < timeout_s) {
    const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n > 0) {
      r.response.append(buffer, static_cast<size_t>(n));
    } else if (n == 0) {
      r.closed_by_server = true;
      break;
    } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
      r.closed_by_server = true;  // reset
      break;
    }
  }
  r.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  ::close(fd);
  return r;
}

// The shared live-server fixture (live_server.h) plus in-process expectations.
class LiveServer : public live::LiveServerTest {
 protected:
  // The embedding computed in process, one input alone.
  std::vector<float> expected_embedding(const std::string& text, Pooling pooling) const {
    const InferenceEngine engine(bundle_, Precision::kFp32);
    const EncodedText e = bundle_->encode(text, std::nullopt);
    return engine.run({{&e.encoded, output_kind(pooling)}})[0].values;
  }
  void expect_good_embed(const std::string& label) const {
    const auto res = post("/v1/embed", R"({"input": "the cat reads"})");
    ASSERT_TRUE(res) << label << ": " << httplib::to_string(res.error());
    EXPECT_EQ(res->status, 200) << label << ": " << res->body;
  }
};

TEST_F(LiveServer, HealthReadinessEmbedAndClassify) {
  start();
  auto res = get("/healthz");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  res = get("/readyz");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);

  res = post("/v1/embed", R"({"input": "the cat reads", "pooling": "mean"})");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  EXPECT_EQ(res->get_header_value("Content-Type"), "application/json");
  auto body = json::parse(res->body);
  ASSERT_EQ(body["results"].size(), 1U);
  const double diff = max_abs_diff(body["results"][0]["embedding"].get<std::vector<float>>(),
                                   expected_embedding("the cat reads", Pooling::kMean));
  std::printf("    served vs in-process embedding max |diff| = %.3e\n", diff);
  EXPECT_LE(diff, 1e-5);
  EXPECT_EQ(body["pooling"], "mean");
  EXPECT_GT(body["usage"]["tokens"].get<int>(), 2);

  res = post(
      "/v1/embed",
      R"({"inputs": ["a dog", {"text": "a cat", "text_pair": "sleeps"}], "pooling": "tokens"})");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  body = json::parse(res->body);
  ASSERT_EQ(body["results"].size(), 2U);
  EXPECT_EQ(body["results"][1]["embedding"].size(), body["results"][1]["tokens"].get<size_t>());

  res = post("/v1/classify", R"({"inputs": ["the river", "a green window"]})");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  body = json::parse(res->body);
  ASSERT_EQ(body["results"].size(), 2U);
  EXPECT_THAT(body["results"][0]["label"].get<std::string>(), ::testing::AnyOf("no", "yes"));
  EXPECT_EQ(body["results"][1]["probabilities"].size(), 2U);
}

TEST_F(LiveServer, BadInputsGetJsonErrorsAndTheServerKeepsServing) {
  ServerOptions options = default_options();
  options.max_input_tokens = 12;
  start(options);
  const std::string long_text =
      "the model learns mixing tokens over many small layers quickly and the expert routes "
      "sparse tokens before the dense layer";
  const std::vector<std::tuple<std::string, std::string, int, std::string>> cases = {
      {"/v1/embed", "{not json", 400, "malformed JSON"},
      {"/v1/embed", "", 400, "empty request body"},
      {"/v1/embed", R"([1, 2])", 400, "must be a JSON object"},
      {"/v1/embed", R"({"input": 42})", 400, "must be a string"},
      {"/v1/embed", R"({"text": "a"})", 400, "unknown key 'text'"},
      {"/v1/embed", R"({"inputs": ["ok", null]})", 400, "inputs[1] must be a string"},
      {"/v1/embed", R"({"input": ""})", 400, "empty string"},
      {"/v1/embed", "{\"input\": \"bad \xC3\x28 utf8\"}", 400, "malformed JSON"},
      {"/v1/embed", std::string(5000, '['), 400, "nests deeper"},
      {"/v1/embed", R"({"inputs": ["a","b","c","d","e","f","g","h","i"]})", 413, "limit is 8"},
      {"/v1/embed", "{\"input\": \"" + long_text + "\"}", 413, "more than 12 tokens"},
      {"/v1/embed", R"({"input": "a", "pooling": "median"})", 400, "'pooling' must be"},
      {"/v1/classify", R"({"input": {"text": "a", "text_pair": 1}})", 400, "text_pair"},
      {"/v1/nothing", R"({"input": "a"})", 404, "no route POST /v1/nothing"},
  };
  for (const auto& [path, body, status, message] : cases) {
    const auto res = post(path, body);
    ASSERT_TRUE(res) << path << " " << body.substr(0, 40);
    EXPECT_EQ(res->status, status) << body.substr(0, 60) << " -> " << res->body;
    const json j = json::parse(res->body, nullptr, false);
    ASSERT_TRUE(j.is_object() && j.contains("error")) << res->body;
    EXPECT_THAT(j["error"].get<std::string>(), HasSubstr(message)) << body.substr(0, 60);
  }
  auto res = get("/v1/embed");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 405);
  expect_good_embed("after bad JSON bodies");

  // Raw sockets: what an HTTP client library would not send.
  auto raw = raw_exchange(port_, "HELLO\r\n\r\n", false, 5);
  EXPECT_THAT(raw.response, HasSubstr("400")) << raw.response;
  // Declares 10 MB, sends nothing: 413 from the headers alone.
  raw = raw_exchange(port_,
                     "POST /v1/embed HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     "Content-Length: 10000000\r\n\r\n",
                     false, 5);
  EXPECT_THAT(raw.response, HasSubstr("413")) << raw.response;
  EXPECT_THAT(raw.response, HasSubstr("\"error\""));
  // Half-closed mid-body: the server gives up on it and closes.
  raw =
      raw_exchange(port_, "POST /v1/embed HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"inp",
                   /*half_close=*/true, 5);
  EXPECT_TRUE(raw.closed_by_server);
  EXPECT_THAT(raw.response, ::testing::Not(HasSubstr("200 OK")));
  // Half-closed mid-headers.
  raw = raw_exchange(port_, "POST /v1/embed HTTP/1.1\r\nHost:", true, 5);
  EXPECT_TRUE(raw.closed_by_server);
  // Slow client: stalls mid-headers; dropped after the 1 s read timeout, and while it stalls
  // other clients are served.
  auto slow = std::async(std::launch::async, [this] {
    return raw_exchange(port_, "POST /v1/embed HTTP/1.1\r\nHost: x\r\nContent-Le", false, 6);
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  expect_good_embed("while a slow client stalls");
  const auto slow_result = slow.get();
  EXPECT_TRUE(slow_result.closed_by_server);
  EXPECT_LT(slow_result.seconds, 4.0);
  std::printf("    stalled client dropped after %.2f s\n", slow_result.seconds);
  // A client that connects and says nothing.
  raw = raw_exchange(port_, "", false, 5);
  EXPECT_TRUE(raw.closed_by_server);

  expect_good_embed("after raw-socket abuse");
  EXPECT_GE(metric("smx_http_request_errors_total{route=\"/v1/embed\",status=\"400\"}"), 9);
  EXPECT_GE(metric("smx_http_request_errors_total{route=\"other\",status=\"404\"}"), 1);
}

TEST_F(LiveServer, ConcurrentClientsGetTheirOwnResultsAndMetricsCountThem) {
  ServerOptions options = default_options();
  options.batcher.max_wait_us = 10000;
  start(options);
  const auto sentences = smx::testing::sample_sentences(16, 21);
  std::vector<std::vector<float>> expected;
  for (const auto& s : sentences) expected.push_back(expected_embedding(s, Pooling::kCls));
  constexpr int kClients = 8, kRounds = 4;
  std::vector<double> worst(kClients, 0);
  std::atomic<int> failures{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      httplib::Client client("127.0.0.1", port_);  // one kept-alive connection per client
      client.set_read_timeout(20, 0);
      for (int r = 0; r < kRounds; ++r) {
        const size_t i = static_cast<size_t>(c * kRounds + r) % sentences.size();
        const auto res =
            client.Post("/v1/embed", json{{"input", sentences[i]}}.dump(), "application/json");
        if (!res || res->status != 200) {
          ++failures;
          continue;
        }
        const auto got =
            json::parse(res->body)["results"][0]["embedding"].get<std::vector<float>>();
        worst[c] = std::max(worst[c], max_abs_diff(got, expected[i]));
      }
    });
  }
  for (auto& t : clients) t.join();
  const double max_worst = *std::max_element(worst.begin(), worst.end());
  std::printf("    %d concurrent requests: max |diff| vs alone = %.3e\n", kClients * kRounds,
              max_worst);
  EXPECT_EQ(failures.load(), 0);
  EXPECT_LE(max_worst, 1e-5);

  const auto res = get("/metrics");
  ASSERT_TRUE(res);
  EXPECT_THAT(res->get_header_value("Content-Type"), HasSubstr("text/plain"));
  const std::string& text = res->body;
  EXPECT_THAT(text, HasSubstr("# TYPE smx_batch_size histogram"));
  EXPECT_EQ(metric("smx_http_requests_total{route=\"/v1/embed\",status=\"200\"}"),
            kClients * kRounds);
  EXPECT_EQ(metric("smx_inputs_total{route=\"/v1/embed\"}"), kClients * kRounds);
  const double batches = metric("smx_batch_size_count");
  EXPECT_GE(batches, 1);
  EXPECT_LE(batches, kClients * kRounds);
  EXPECT_EQ(metric("smx_batch_size_sum"), kClients * kRounds);
  EXPECT_EQ(metric("smx_http_request_duration_seconds_count{route=\"/v1/embed\"}"),
            kClients * kRounds);
  EXPECT_EQ(metric("smx_queue_depth"), 0);
  std::printf("    %d requests ran in %.0f model calls\n", kClients * kRounds, batches);
}

TEST_F(LiveServer, FullQueueGets429AndSlowRequestsGet504) {
  ServerOptions options = default_options();
  options.batcher.max_queue = 1;
  options.batcher.max_wait_us = 1500000;  // the first input sits in the queue
  options.batcher.wait_only_for_announced = false;
  options.request_timeout_ms = 5000;
  start(options);
  auto first =
      std::async(std::launch::async, [this] { return post("/v1/embed", R"({"input": "first"})"); });
  const auto deadline = Clock::now() + std::chrono::seconds(5);
  while (metric("smx_queue_depth") < 1 && Clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  const auto busy = post("/v1/embed", R"({"input": "second"})");
  ASSERT_TRUE(busy);
  EXPECT_EQ(busy->status, 429) << busy->body;
  EXPECT_EQ(busy->get_header_value("Retry-After"), "1");
  EXPECT_THAT(busy->body, HasSubstr("server busy"));
  const auto done = first.get();
  ASSERT_TRUE(done);
  EXPECT_EQ(done->status, 200);
  stop();

  options.batcher.max_queue = 100;
  options.request_timeout_ms = 100;  // shorter than the batcher's wait
  start(options);
  const auto slow = post("/v1/embed", R"({"input": "late"})");
  ASSERT_TRUE(slow);
  EXPECT_EQ(slow->status, 504) << slow->body;
  EXPECT_THAT(slow->body, HasSubstr("within 100 ms"));
  EXPECT_EQ(metric("smx_request_timeouts_total"), 1);
}

TEST_F(LiveServer, StopFinishesInFlightRequests) {
  ServerOptions options = default_options();
  options.batcher.max_wait_us = 3000000;  // would wait 3 s for batch-mates; stop() drains now
  options.batcher.wait_only_for_announced = false;
  start(options);
  auto in_flight = std::async(
      std::launch::async, [this] { return post("/v1/embed", R"({"inputs": ["one", "two"]})"); });
  const auto deadline = Clock::now() + std::chrono::seconds(5);
  while (metric("smx_requests_in_flight") < 1 && Clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  const auto t0 = Clock::now();
  stop();
  const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  const auto res = in_flight.get();
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 200) << res->body;
  EXPECT_EQ(json::parse(res->body)["results"].size(), 2U);
  std::printf("    stop() returned after %.2f s with the request answered\n", seconds);
  EXPECT_LT(seconds, 2.5);
  EXPECT_FALSE(
      raw_exchange(port_, "GET /healthz HTTP/1.1\r\n\r\n", false, 1).response.find("200") !=
      std::string::npos);  // no longer accepting
}

TEST_F(LiveServer, SigtermToSmxServeFinishesInFlightAndExitsZero) {
  const std::string port_file = dir_.file("port");
  const std::string log = dir_.file("serve.log");
  const std::string model = model_dir();
  std::vector<std::string> args = {SMX_CLI_PATH,
                                   "serve",
                                   "--model",
                                   model,
                                   "--port",
                                   "0",
                                   "--port-file",
                                   port_file,
                                   "--max-wait-ms",
                                   "1500",
                                   "--always-wait",
                                   "--keep-alive-timeout",
                                   "1"};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 2, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  pid_t pid = -1;
  const int spawned = ::posix_spawn(&pid, SMX_CLI_PATH, &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ASSERT_EQ(spawned, 0);
  const auto deadline = Clock::now() + std::chrono::seconds(15);
  while (!std::filesystem::exists(port_file) && Clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_TRUE(std::filesystem::exists(port_file)) << "smx serve did not start";
  std::ifstream(port_file) >> port_;
  auto in_flight = std::async(
      std::launch::async, [this] { return post("/v1/classify", R"({"input": "a small dog"})"); });
  while (metric("smx_requests_in_flight") < 1 && Clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ASSERT_EQ(::kill(pid, SIGTERM), 0);
  const auto res = in_flight.get();
  int status = -1;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  std::ifstream log_in(log);
  const std::string log_text((std::istreambuf_iterator<char>(log_in)),
                             std::istreambuf_iterator<char>());
  ASSERT_TRUE(WIFEXITED(status)) << log_text;
  EXPECT_EQ(WEXITSTATUS(status), 0) << log_text;
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 200) << res->body;
  EXPECT_THAT(log_text, HasSubstr("finishing in-flight requests"));
}

}  // namespace
}  // namespace smx::serve
