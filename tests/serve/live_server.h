// Helpers for tests that talk to a live server on a loopback port: an in-process server fixture,
// raw-socket exchanges (what an HTTP client library would not send), and `smx serve` run as a
// child process with a bounded wait.
#pragma once

#include <httplib.h>

#include <chrono>
#include <csignal>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "smx/serve/server.h"
#include "support/model_folder.h"
#include "support/scratch_dir.h"

namespace smx::serve::live {

using Clock = std::chrono::steady_clock;

inline double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// A connected loopback TCP socket, or -1.
inline int connect_loopback(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// Reads until the peer closes, `stop_after` appears `count` times, or `timeout_s` passes.
struct ReadResult {
  std::string data;
  bool closed_by_server = false;
};
inline ReadResult read_from(int fd, double timeout_s, const std::string& stop_after = "",
                            int count = 1) {
  ReadResult r;
  timeval tv{0, 50000};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  const auto start = Clock::now();
  char buffer[4096];
  while (seconds_since(start) < timeout_s) {
    const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n > 0) {
      r.data.append(buffer, static_cast<size_t>(n));
      if (!stop_after.empty()) {
        int seen = 0;
        for (size_t at = r.data.find(stop_after); at != std::string::npos;
             at = r.data.find(stop_after, at + 1))
          ++seen;
        if (seen >= count) break;
      }
    } else if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
      r.closed_by_server = true;
      break;
    }
  }
  return r;
}

// Occurrences of `needle` in `text`.
inline int count_of(const std::string& text, const std::string& needle) {
  int n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

// A client that trickles `text` one byte every `interval_s` on its own thread until it has sent
// it all, the server closes, or stop() is called.
class SlowClient {
 public:
  SlowClient(int port, std::string text, double interval_s)
      : fd_(connect_loopback(port)), text_(std::move(text)), interval_s_(interval_s) {
    thread_ = std::thread([this] { run(); });
  }
  ~SlowClient() { stop(); }
  void stop() {
    stopping_ = true;
    if (thread_.joinable()) thread_.join();
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  bool connected() const { return fd_ >= 0; }
  // Seconds until the server closed the connection (or refused it), -1 while it is still open.
  double closed_after() const { return closed_after_.load(); }
  std::string received() const {
    std::lock_guard lock(mutex_);
    return received_;
  }

 private:
  void run() {
    if (fd_ < 0) return;
    const auto start = Clock::now();
    timeval tv{0, 10000};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    size_t sent = 0;
    auto next = Clock::now();
    char buffer[1024];
    while (!stopping_) {
      if (sent < text_.size() && Clock::now() >= next) {
        if (::send(fd_, text_.data() + sent, 1, MSG_NOSIGNAL) != 1) {
          closed_after_ = seconds_since(start);
          return;
        }
        ++sent;
        next +=
            std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(interval_s_));
      }
      const ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
      if (n > 0) {
        std::lock_guard lock(mutex_);
        received_.append(buffer, static_cast<size_t>(n));
      } else if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
        closed_after_ = seconds_since(start);
        return;
      }
    }
  }

  int fd_;
  std::string text_;
  double interval_s_;
  std::atomic<bool> stopping_{false};
  std::atomic<double> closed_after_{-1};
  mutable std::mutex mutex_;
  std::string received_;
  std::thread thread_;
};

// `smx serve` (or any smx command) as a child process; stderr goes to `log`.
class ChildProcess {
 public:
  ChildProcess(std::vector<std::string> args, const std::string& log) : log_(log) {
    args.insert(args.begin(), SMX_CLI_PATH);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    if (::posix_spawn(&pid_, SMX_CLI_PATH, &actions, nullptr, argv.data(), environ) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&actions);
  }
  ~ChildProcess() {
    if (running()) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  bool started() const { return pid_ > 0; }
  bool running() const { return pid_ > 0 && !exited_; }
  void signal(int sig) const {
    if (running()) ::kill(pid_, sig);
  }
  // Waits up to `timeout_s` for the process to exit; true when it did (exit status in status()).
  bool wait(double timeout_s) {
    const auto start = Clock::now();
    while (running()) {
      int status = 0;
      const pid_t r = ::waitpid(pid_, &status, WNOHANG);
      if (r == pid_) {
        exited_ = true;
        status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        break;
      }
      if (seconds_since(start) > timeout_s) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return exited_;
  }
  int status() const { return status_; }
  std::string log() const {
    std::ifstream in(log_);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  }

 private:
  std::string log_;
  pid_t pid_ = -1;
  bool exited_ = false;
  int status_ = -1;
};

// Waits for `smx serve --port-file FILE` to write its port; -1 if it did not within `timeout_s`.
inline int wait_for_port_file(const std::string& file, double timeout_s, ChildProcess* child) {
  const auto start = Clock::now();
  while (seconds_since(start) < timeout_s) {
    std::ifstream in(file);
    int port = -1;
    if (in >> port && port > 0) return port;
    if (child && !child->running()) return -1;
    if (child) child->wait(0);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return -1;
}

inline httplib::Result http_request(int port, const std::string& method, const std::string& path,
                                    const std::string& body = "",
                                    const httplib::Headers& headers = {}, int timeout_s = 20) {
  httplib::Client client("127.0.0.1", port);
  client.set_read_timeout(timeout_s, 0);
  client.set_connection_timeout(timeout_s, 0);
  if (method == "GET") return client.Get(path.c_str(), headers);
  if (method == "DELETE") return client.Delete(path.c_str(), headers);
  if (method == "OPTIONS") return client.Options(path.c_str(), headers);
  if (method == "PUT") return client.Put(path.c_str(), headers, body, "application/json");
  if (method == "PATCH") return client.Patch(path.c_str(), headers, body, "application/json");
  return client.Post(path.c_str(), headers, body, "application/json");
}

constexpr const char* kTinyTaskJson =
    R"({"task": "tiny", "num_outputs": 2, "labels": ["no", "yes"], "kind": "classification"})";

// A tiny fine-tuned model folder and an in-process server on a free loopback port.
class LiveServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    smx::testing::write_model_folder(model_dir(), smx::testing::tiny_serving_config(),
                                     kTinyTaskJson, 2);
    bundle_ = ModelBundle::load(model_dir());
  }
  void TearDown() override { stop(); }

  std::string model_dir() const { return dir_.file("model"); }

  ServerOptions default_options() const {
    ServerOptions o;
    o.port = 0;
    o.limits.max_body_bytes = 64 << 10;
    o.limits.max_inputs = 8;
    o.read_timeout_s = 1;
    o.keep_alive_timeout_s = 1;
    o.http_threads = 8;
    o.request_timeout_ms = 10000;
    o.batcher.max_wait_us = 2000;
    return o;
  }

  void start(ServerOptions options, std::shared_ptr<const ModelBundle> bundle = nullptr) {
    server_ = std::make_unique<Server>(bundle ? bundle : bundle_, options);
    port_ = server_->bind();
    thread_ = std::thread([this] { server_->run(); });
  }
  void start() { start(default_options()); }
  void stop() {
    if (!server_) return;
    server_->stop();
    thread_.join();
    server_.reset();
  }

  httplib::Result post(const std::string& path, const std::string& body,
                       const httplib::Headers& headers = {}) const {
    return http_request(port_, "POST", path, body, headers);
  }
  httplib::Result get(const std::string& path, const httplib::Headers& headers = {}) const {
    return http_request(port_, "GET", path, "", headers);
  }
  double metric(const std::string& series) const {
    const auto res = get("/metrics");
    if (!res) return -1;
    const auto at = res->body.find("\n" + series + " ");
    if (at == std::string::npos) return 0;
    return std::stod(res->body.substr(at + series.size() + 2));
  }

  smx::testing::ScratchDir dir_;
  std::shared_ptr<ModelBundle> bundle_;
  std::unique_ptr<Server> server_;
  std::thread thread_;
  int port_ = -1;
};

}  // namespace smx::serve::live
