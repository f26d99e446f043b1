// A server that cannot be shared, misled or stalled: one listener per port, validated ports,
// fatal startup failures, slow and idle clients that cannot hold health checks or shutdown,
// pipelining, 405 for wrong methods, and non-finite model outputs answered as errors.
#include <future>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include "serve/live_server.h"
#include "smx/model/sparse_mixer.h"
#include "support/tiny_tokenizer.h"

namespace smx::serve {
namespace {

using json = nlohmann::json;
using live::ChildProcess;
using live::Clock;
using live::seconds_since;
using ::testing::HasSubstr;

class ServeHardening : public live::LiveServerTest {
 protected:
  // `smx serve` on the tiny model with extra flags; its port (or -1) once it listens.
  std::unique_ptr<ChildProcess> spawn_serve(const std::vector<std::string>& flags,
                                            const std::string& name) {
    std::vector<std::string> args = {"serve", "--model", model_dir()};
    args.insert(args.end(), flags.begin(), flags.end());
    return std::make_unique<ChildProcess>(args, dir_.file(name + ".log"));
  }
};

TEST_F(ServeHardening, SecondServerOnABusyPortFailsWithAClearError) {
  const std::string port_file = dir_.file("port");
  auto first = spawn_serve({"--port", "0", "--port-file", port_file}, "first");
  const int port = live::wait_for_port_file(port_file, 20, first.get());
  ASSERT_GT(port, 0) << first->log();
  auto second = spawn_serve({"--port", std::to_string(port)}, "second");
  const bool exited = second->wait(20);
  EXPECT_TRUE(exited) << "a second smx serve is listening on the same port: " << second->log();
  if (exited) {
    EXPECT_NE(second->status(), 0);
    EXPECT_THAT(second->log(), HasSubstr("in use")) << second->log();
  }
  // The first server still answers every request (none went to the second).
  for (int i = 0; i < 4; ++i) {
    const auto res = live::http_request(port, "GET", "/healthz");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 200);
  }
  first->signal(SIGTERM);
  EXPECT_TRUE(first->wait(10));
}

TEST_F(ServeHardening, PortsOutsideTheValidRangeAreRefused) {
  for (const std::string port : {"99999", "65536", "-1"}) {
    auto child =
        spawn_serve({"--port", port, "--port-file", dir_.file("port" + port)}, "port" + port);
    const bool exited = child->wait(20);
    EXPECT_TRUE(exited) << "--port " << port << " was accepted: " << child->log();
    if (!exited) continue;
    EXPECT_NE(child->status(), 0) << child->log();
    EXPECT_THAT(child->log(), HasSubstr("1-65535")) << child->log();
    EXPECT_FALSE(std::filesystem::exists(dir_.file("port" + port)));
  }
}

TEST_F(ServeHardening, UnwritablePortFileIsFatal) {
  auto child = spawn_serve({"--port", "0", "--port-file", dir_.file("missing/dir/port")}, "pf");
  const bool exited = child->wait(20);
  EXPECT_TRUE(exited) << "an unwritable --port-file was ignored: " << child->log();
  if (exited) {
    EXPECT_NE(child->status(), 0);
    EXPECT_THAT(child->log(), HasSubstr("port file")) << child->log();
  }
}

// A dozen clients trickling header bytes and two dozen idle ones: health checks are still
// answered at once, and every slow client is dropped at the total request deadline.
TEST_F(ServeHardening, SlowAndIdleClientsDoNotStallHealthChecks) {
  ServerOptions options = default_options();
  options.http_threads = 4;
  options.read_timeout_s = 2;  // total deadline for reading one request
  start(options);
  std::vector<std::unique_ptr<live::SlowClient>> clients;
  for (int i = 0; i < 12; ++i)  // a header byte every 0.2 s: never silent for a read timeout
    clients.push_back(std::make_unique<live::SlowClient>(
        port_, "POST /v1/embed HTTP/1.1\r\nHost: x\r\nX-Padding: aaaaaaaaaaaaaaaaaaaaaaa\r\n",
        0.2));
  std::vector<int> idle;
  for (int i = 0; i < 24; ++i) idle.push_back(live::connect_loopback(port_));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  double worst = 0;
  for (int i = 0; i < 3; ++i) {
    const auto t0 = Clock::now();
    const auto res = live::http_request(port_, "GET", "/healthz", "", {}, 3);
    worst = std::max(worst, seconds_since(t0));
    ASSERT_TRUE(res) << "/healthz not answered while slow clients are connected";
    EXPECT_EQ(res->status, 200);
  }
  std::printf("    /healthz with 12 slow + 24 idle connections: slowest answer %.3f s\n", worst);
  std::this_thread::sleep_for(std::chrono::milliseconds(3000));
  int dropped = 0;
  for (auto& c : clients) {
    if (c->closed_after() > 0 && c->closed_after() < 3.5) ++dropped;
    if (c->closed_after() > 0) {
      EXPECT_THAT(c->received(), HasSubstr("408"));
    }
  }
  EXPECT_EQ(dropped, 12) << "slow clients kept past the 2 s request deadline";
  for (const int fd : idle) ::close(fd);
}

TEST_F(ServeHardening, ConnectionsOverTheCapGet503AtOnce) {
  ServerOptions options = default_options();
  options.max_connections = 4;
  start(options);
  std::vector<int> idle;
  for (int i = 0; i < 4; ++i) idle.push_back(live::connect_loopback(port_));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  const auto t0 = Clock::now();
  const int extra = live::connect_loopback(port_);
  ASSERT_GE(extra, 0);
  const std::string request = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
  (void)::send(extra, request.data(), request.size(), MSG_NOSIGNAL);
  const auto reply = live::read_from(extra, 3);
  const double seconds = seconds_since(t0);
  ::close(extra);
  EXPECT_THAT(reply.data, HasSubstr("503")) << reply.data;
  EXPECT_THAT(reply.data, HasSubstr("\"error\"")) << reply.data;
  EXPECT_LT(seconds, 2.0);
  std::printf("    connection over the cap of 4 answered 503 in %.3f s\n", seconds);
  for (const int fd : idle) ::close(fd);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  const auto res = get("/healthz");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
}

TEST_F(ServeHardening, SigtermStopsWithinTheDeadlineDespiteSlowClients) {
  const std::string port_file = dir_.file("port");
  auto serve = spawn_serve({"--port", "0", "--port-file", port_file, "--read-timeout", "2"}, "s");
  port_ = live::wait_for_port_file(port_file, 20, serve.get());
  ASSERT_GT(port_, 0) << serve->log();
  std::vector<std::unique_ptr<live::SlowClient>> clients;
  for (int i = 0; i < 4; ++i)  // one header byte per second
    clients.push_back(std::make_unique<live::SlowClient>(
        port_, "POST /v1/embed HTTP/1.1\r\nHost: x\r\nContent-Length: 20\r\n\r\n", 1.0));
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));
  const auto t0 = Clock::now();
  serve->signal(SIGTERM);
  const bool exited = serve->wait(15);
  const double seconds = seconds_since(t0);
  for (auto& c : clients) c->stop();
  ASSERT_TRUE(exited) << "smx serve still running 15 s after SIGTERM: " << serve->log();
  EXPECT_EQ(serve->status(), 0) << serve->log();
  EXPECT_LT(seconds, 3.0) << serve->log();
  std::printf("    SIGTERM with 4 slow clients: exited after %.2f s\n", seconds);
}

TEST_F(ServeHardening, PipelinedRequestsAreAllAnswered) {
  start();
  const int fd = live::connect_loopback(port_);
  ASSERT_GE(fd, 0);
  const std::string body = R"({"input": "the cat reads"})";
  const std::string embed =
      "POST /v1/embed HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
      "Content-Length: " +
      std::to_string(body.size()) + "\r\n\r\n" + body;
  const std::string health = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
  const std::string pipelined = embed + health + embed;
  ASSERT_EQ(::send(fd, pipelined.data(), pipelined.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(pipelined.size()));
  const auto reply = live::read_from(fd, 5, "HTTP/1.1 ", 3);
  ::close(fd);
  const int answered = live::count_of(reply.data, "HTTP/1.1 200");
  const bool refused = live::count_of(reply.data, "Connection: close") > 0;
  std::printf("    3 pipelined requests: %d answered 200%s\n", answered,
              refused ? " (then Connection: close)" : "");
  EXPECT_TRUE(answered == 3 || refused) << reply.data;
  EXPECT_EQ(answered, 3) << reply.data;
  EXPECT_EQ(live::count_of(reply.data, "\"results\""), 2);
  EXPECT_EQ(live::count_of(reply.data, "\"status\":\"ok\""), 1);
  EXPECT_LT(reply.data.find("\"results\""), reply.data.find("\"status\":\"ok\""));
}

TEST_F(ServeHardening, WrongMethodsOnKnownRoutesGet405WithAllow) {
  start();
  for (const std::string method : {"GET", "PUT", "DELETE", "OPTIONS", "PATCH"}) {
    const auto res = live::http_request(port_, method, "/v1/embed", "{}");
    ASSERT_TRUE(res) << method;
    EXPECT_EQ(res->status, 405) << method << " -> " << res->body;
    EXPECT_EQ(res->get_header_value("Allow"), "POST") << method;
    EXPECT_THAT(res->body, HasSubstr("\"error\"")) << method;
  }
  for (const std::string method : {"POST", "DELETE"}) {
    const auto res = live::http_request(port_, method, "/healthz", "{}");
    ASSERT_TRUE(res) << method;
    EXPECT_EQ(res->status, 405) << method << " -> " << res->body;
    EXPECT_THAT(res->get_header_value("Allow"), HasSubstr("GET")) << method;
  }
  const auto res = live::http_request(port_, "DELETE", "/no/such/route");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 404);
}

TEST_F(ServeHardening, NonFiniteOutputsAreAnswered500NotNull) {
  const ModelConfig config = smx::testing::tiny_serving_config();
  auto model = model::make_sparse_mixer(config, 3, 2);
  {
    torch::NoGradGuard no_grad;
    for (auto& p : model->parameters()) p.fill_(std::numeric_limits<float>::quiet_NaN());
  }
  TaskInfo task;
  task.task = "tiny";
  task.labels = {"no", "yes"};
  auto broken = std::make_shared<ModelBundle>(config, smx::testing::tiny_tokenizer(), model, task);
  start(default_options(), broken);
  for (const std::string route : {"/v1/classify", "/v1/embed"}) {
    const auto res = post(route, R"({"inputs": ["the cat reads", "a dog"]})");
    ASSERT_TRUE(res) << route;
    EXPECT_EQ(res->status, 500) << route << " -> " << res->body.substr(0, 200);
    const json j = json::parse(res->body, nullptr, false);
    ASSERT_TRUE(j.is_object() && j.contains("error")) << res->body.substr(0, 200);
    EXPECT_THAT(j.dump(), HasSubstr("non-finite")) << res->body.substr(0, 200);
    EXPECT_THAT(res->body, ::testing::Not(HasSubstr("null")));
  }
}

}  // namespace
}  // namespace smx::serve
