#include "smx/serve/http_server.h"

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "smx/core/error.h"

namespace smx::serve {
namespace {

using Clock = std::chrono::steady_clock;

constexpr size_t kReadChunk = 16384;
constexpr int64_t kLingerMs = 1000;  // reading (and dropping) what a closed-on client still sends

std::chrono::milliseconds ms(int64_t n) {
  return std::chrono::milliseconds(n);
}

void default_error_body(const HttpRequest*, const std::string& message, HttpResponse& res) {
  res.content_type = "application/json";
  res.body = nlohmann::json{{"error", message}}.dump(-1, ' ', false,
                                                     nlohmann::json::error_handler_t::replace);
}

std::string peer_name(const sockaddr_storage& addr) {
  char host[INET6_ADDRSTRLEN] = "?";
  int port = 0;
  if (addr.ss_family == AF_INET) {
    const auto* a = reinterpret_cast<const sockaddr_in*>(&addr);
    ::inet_ntop(AF_INET, &a->sin_addr, host, sizeof host);
    port = ntohs(a->sin_port);
  } else if (addr.ss_family == AF_INET6) {
    const auto* a = reinterpret_cast<const sockaddr_in6*>(&addr);
    ::inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host);
    port = ntohs(a->sin6_port);
  }
  return fmt::format("{}:{}", host, port);
}

}  // namespace

struct HttpServer::Impl {
  enum class State { kIdle, kHead, kBody, kHandling, kWriting, kLingering };

  struct Connection {
    int fd = -1;
    uint64_t id = 0;
    std::string remote;
    State state = State::kIdle;
    bool overflow = false;  // over max_connections: only a 503 is written
    std::string in;         // received, not yet consumed
    std::string out;        // response being written
    size_t out_sent = 0;
    Clock::time_point deadline;
    Clock::time_point request_start;
    std::shared_ptr<HttpRequest> request;  // the request being read / handled / answered
    HttpResponse response;                 // kept for the logger until written
    bool close_after_write = false;
    int served = 0;
  };

  struct Task {
    uint64_t connection;
    std::shared_ptr<HttpRequest> request;
  };
  struct Done {
    uint64_t connection;
    HttpResponse response;
  };

  HttpServerOptions options;
  HeadHandler on_head;
  Handler handler;
  Logger logger;
  ErrorBody error_body;

  int listen_fd = -1;
  int wake_read = -1, wake_write = -1;
  int bound_port = -1;
  std::atomic<bool> stopping{false};
  std::atomic<int64_t> open{0};
  bool ran = false;

  std::map<uint64_t, Connection> connections;  // I/O thread only
  Clock::time_point accept_paused_until;       // out of descriptors: the listener rests
  uint64_t next_id = 1;
  int64_t regular = 0;  // connections not flagged overflow

  std::mutex mutex;  // guards tasks, done, workers_exit
  std::condition_variable task_cv;
  std::deque<Task> tasks;
  std::vector<Done> done;
  bool workers_exit = false;
  std::vector<std::thread> workers;

  ~Impl() {
    for (auto& [id, c] : connections) ::close(c.fd);
    if (listen_fd >= 0) ::close(listen_fd);
    if (wake_read >= 0) ::close(wake_read);
    if (wake_write >= 0) ::close(wake_write);
  }

  void wake() {
    const char byte = 1;
    (void)!::write(wake_write, &byte, 1);
  }

  // ---- workers ----
  void worker_loop() {
    while (true) {
      Task task;
      {
        std::unique_lock lock(mutex);
        task_cv.wait(lock, [this] { return workers_exit || !tasks.empty(); });
        if (tasks.empty()) return;
        task = std::move(tasks.front());
        tasks.pop_front();
      }
      HttpResponse res;
      try {
        handler(*task.request, res);
      } catch (const std::exception& e) {
        res = HttpResponse{};
        res.status = 500;
        if (error_body)
          error_body(task.request.get(), std::string("internal error: ") + e.what(), res);
      } catch (...) {
        res = HttpResponse{};
        res.status = 500;
        if (error_body) error_body(task.request.get(), "internal error", res);
      }
      {
        std::lock_guard lock(mutex);
        done.push_back({task.connection, std::move(res)});
      }
      wake();
    }
  }

  // ---- connections ----
  void close_connection(uint64_t id) {
    auto it = connections.find(id);
    if (it == connections.end()) return;
    ::close(it->second.fd);
    if (!it->second.overflow) --regular;
    connections.erase(it);
    open.store(regular);
  }

  void start_write(Connection& c, HttpResponse res, bool close) {
    const bool keep_alive = !close && !res.close && !stopping.load() && c.request &&
                            c.request->keep_alive && c.served + 1 < options.keep_alive_max_requests;
    c.close_after_write = !keep_alive;
    c.out = serialize_response(res, keep_alive);
    c.out_sent = 0;
    c.response = std::move(res);
    c.state = State::kWriting;
    c.deadline = Clock::now() + ms(options.write_timeout_ms);
  }

  // A transport error: answered, then the connection closes.
  void fail_request(Connection& c, int status, const std::string& message) {
    HttpResponse res;
    res.status = status;
    error_body(c.request.get(), message, res);
    start_write(c, std::move(res), /*close=*/true);
  }

  // Consumes buffered input: parses heads, reads bodies, dispatches. Returns after a request is
  // dispatched or answered, or when more bytes are needed.
  void advance(Connection& c) {
    if (c.state == State::kIdle) {
      if (c.in.empty()) return;
      c.state = State::kHead;
      c.request_start = Clock::now();
      c.deadline = c.request_start + ms(options.request_read_timeout_ms);
    }
    if (c.state == State::kHead) {
      const size_t end = c.in.find("\r\n\r\n");
      if (end == std::string::npos) {
        if (c.in.size() > options.max_header_bytes)
          fail_request(c, 431, fmt::format("request head over {} bytes", options.max_header_bytes));
        return;
      }
      if (end + 4 > options.max_header_bytes)
        return fail_request(c, 431,
                            fmt::format("request head over {} bytes", options.max_header_bytes));
      auto request = std::make_shared<HttpRequest>();
      bool unsupported = false;
      const std::string error =
          parse_request_head(std::string_view(c.in).substr(0, end + 4), *request, &unsupported);
      c.in.erase(0, end + 4);
      request->remote = c.remote;
      request->start = c.request_start;
      if (!error.empty()) {
        c.request = nullptr;
        return fail_request(c, unsupported ? 501 : 400, "bad request: " + error);
      }
      c.request = request;
      HttpResponse early;
      if (on_head && on_head(*request, early)) {
        // Answered from the head: a body that was announced is not read; the connection closes
        // (lingering a moment so the answer is not lost to a reset).
        return start_write(c, std::move(early), request->content_length > 0);
      }
      if (request->content_length > options.max_body_bytes)
        return fail_request(c, 413,
                            fmt::format("request body of {} bytes is over the {}-byte limit",
                                        request->content_length, options.max_body_bytes));
      c.state = State::kBody;
      if (request->expect_continue && c.in.size() < request->content_length) {
        static const std::string kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
        (void)::send(c.fd, kContinue.data(), kContinue.size(), MSG_NOSIGNAL);
      }
    }
    if (c.state == State::kBody) {
      const size_t need = c.request->content_length;
      if (c.in.size() < need) return;
      c.request->body = c.in.substr(0, need);
      c.in.erase(0, need);
      c.state = State::kHandling;
      {
        std::lock_guard lock(mutex);
        tasks.push_back({c.id, c.request});
      }
      task_cv.notify_one();
    }
  }

  // The response is written: log it, then close, linger, or wait for the next request.
  void finish_response(Connection& c) {
    if (logger) logger(c.request.get(), c.response);
    c.request.reset();  // releases what the application attached
    c.response = HttpResponse{};
    c.out.clear();
    c.out_sent = 0;
    ++c.served;
    if (c.close_after_write) {
      ::shutdown(c.fd, SHUT_WR);
      c.state = State::kLingering;
      c.in.clear();
      c.deadline = Clock::now() + ms(kLingerMs);
      return;
    }
    c.state = State::kIdle;
    c.deadline = Clock::now() + ms(options.idle_timeout_ms);
    advance(c);  // a pipelined request may already be buffered
  }

  void write_some(Connection& c) {
    while (c.out_sent < c.out.size()) {
      const ssize_t n =
          ::send(c.fd, c.out.data() + c.out_sent, c.out.size() - c.out_sent, MSG_NOSIGNAL);
      if (n > 0) {
        c.out_sent += static_cast<size_t>(n);
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
      if (n < 0 && errno == EINTR) continue;
      // The peer is gone: log what was meant for it, then close.
      if (logger) logger(c.request.get(), c.response);
      c.request.reset();
      c.state = State::kLingering;
      c.deadline = Clock::now();
      return;
    }
    finish_response(c);
  }

  // Returns false when the connection is to be closed.
  bool read_some(Connection& c) {
    char buffer[kReadChunk];
    while (true) {
      const ssize_t n = ::recv(c.fd, buffer, sizeof buffer, 0);
      if (n > 0) {
        if (c.state == State::kLingering) continue;  // dropped
        c.in.append(buffer, static_cast<size_t>(n));
        if (c.in.size() > options.max_header_bytes + options.max_body_bytes + kReadChunk) break;
        continue;
      }
      if (n == 0) return false;  // the peer closed (mid-request or idle: nothing to answer)
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      return false;
    }
    if (c.state != State::kLingering) advance(c);
    return true;
  }

  void accept_all() {
    while (true) {
      sockaddr_storage addr{};
      socklen_t len = sizeof addr;
      const int fd = ::accept4(listen_fd, reinterpret_cast<sockaddr*>(&addr), &len,
                               SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EINTR) continue;
        // Out of descriptors: the pending connection stays in the backlog; stop polling the
        // listener for a moment instead of waking on it in a loop.
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
          accept_paused_until = Clock::now() + ms(100);
        return;
      }
      const int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      const bool overflow = regular >= static_cast<int64_t>(options.max_connections);
      if (overflow && connections.size() >= 2 * options.max_connections) {
        ::close(fd);  // far over the cap: not even a 503
        continue;
      }
      Connection& c = connections[next_id];
      c.fd = fd;
      c.id = next_id++;
      c.remote = peer_name(addr);
      c.overflow = overflow;
      c.deadline = Clock::now() + ms(options.idle_timeout_ms);
      if (overflow) {
        HttpResponse res;
        res.status = 503;
        error_body(nullptr,
                   fmt::format("server at its connection limit ({}); retry shortly",
                               options.max_connections),
                   res);
        res.set_header("Retry-After", "1");
        start_write(c, std::move(res), /*close=*/true);
        write_some(c);
      } else {
        ++regular;
        open.store(regular);
      }
    }
  }

  // Past-deadline connections: idle ones close, half-read requests get 408.
  void expire(Clock::time_point now) {
    std::vector<uint64_t> to_close;
    for (auto& [id, c] : connections) {
      if (now < c.deadline) continue;
      switch (c.state) {
        case State::kIdle:
        case State::kLingering:
          to_close.push_back(id);
          break;
        case State::kHead:
        case State::kBody:
          fail_request(
              c, 408,
              fmt::format("request not received within {} ms", options.request_read_timeout_ms));
          write_some(c);
          break;
        case State::kWriting:
          if (logger) logger(c.request.get(), c.response);
          to_close.push_back(id);
          break;
        case State::kHandling:
          break;  // the handler has its own deadline
      }
    }
    for (const uint64_t id : to_close) close_connection(id);
  }

  void collect_done() {
    std::vector<Done> finished;
    {
      std::lock_guard lock(mutex);
      finished.swap(done);
    }
    for (auto& d : finished) {
      auto it = connections.find(d.connection);
      if (it == connections.end()) continue;
      start_write(it->second, std::move(d.response), /*close=*/false);
      write_some(it->second);
    }
  }

  void on_stop() {
    if (listen_fd >= 0) {
      ::close(listen_fd);
      listen_fd = -1;
    }
    std::vector<uint64_t> to_close;
    for (auto& [id, c] : connections)
      if (c.state == State::kIdle || c.state == State::kHead || c.state == State::kBody)
        to_close.push_back(id);
    for (const uint64_t id : to_close) close_connection(id);
  }

  void loop() {
    std::vector<pollfd> fds;
    std::vector<uint64_t> ids;
    bool stop_seen = false;
    while (true) {
      if (stopping.load() && !stop_seen) {
        stop_seen = true;
        on_stop();
      }
      if (stop_seen) {
        // New requests are not read once stopping; close connections that finished theirs.
        std::vector<uint64_t> idle;
        for (auto& [id, c] : connections)
          if (c.state == State::kIdle) idle.push_back(id);
        for (const uint64_t id : idle) close_connection(id);
        if (connections.empty()) return;
      }
      fds.clear();
      ids.clear();
      fds.push_back({wake_read, POLLIN, 0});
      ids.push_back(0);
      const bool has_listener = listen_fd >= 0 && Clock::now() >= accept_paused_until;
      if (has_listener) {
        fds.push_back({listen_fd, POLLIN, 0});
        ids.push_back(0);
      }
      auto next = Clock::now() + ms(1000);
      if (listen_fd >= 0 && !has_listener) next = std::min(next, accept_paused_until);
      for (auto& [id, c] : connections) {
        short events = 0;
        switch (c.state) {
          case State::kIdle:
          case State::kHead:
          case State::kBody:
          case State::kLingering:
            events = POLLIN;
            break;
          case State::kWriting:
            events = POLLOUT;
            break;
          case State::kHandling:
            events = 0;
            break;
        }
        if (c.state != State::kHandling) next = std::min(next, c.deadline);
        // A handled request's socket is not polled (a hang-up would wake poll() in a loop).
        fds.push_back({c.state == State::kHandling ? -1 : c.fd, events, 0});
        ids.push_back(id);
      }
      const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(next - Clock::now());
      const int timeout = static_cast<int>(std::clamp<int64_t>(wait.count() + 1, 0, 1000));
      const int ready = ::poll(fds.data(), fds.size(), timeout);
      if (ready < 0 && errno != EINTR) fail("poll() failed: {}", std::strerror(errno));
      size_t first_connection = 1;
      if (fds[0].revents & POLLIN) {
        char drain[256];
        while (::read(wake_read, drain, sizeof drain) > 0) {
        }
      }
      if (has_listener) {
        first_connection = 2;
        if (fds[1].revents & POLLIN) accept_all();
      }
      collect_done();
      for (size_t i = first_connection; i < fds.size(); ++i) {
        if (fds[i].revents == 0) continue;
        auto it = connections.find(ids[i]);
        if (it == connections.end()) continue;
        Connection& c = it->second;
        bool keep = true;
        if (fds[i].revents & POLLIN) {
          keep = read_some(c);
        } else if (fds[i].revents & POLLOUT) {
          if (c.state == State::kWriting) write_some(c);
        } else if (fds[i].revents & (POLLERR | POLLHUP | POLLNVAL)) {
          if (c.state == State::kWriting && logger) logger(c.request.get(), c.response);
          keep = false;
        }
        if (!keep) close_connection(ids[i]);
      }
      expire(Clock::now());
    }
  }
};

HttpServer::HttpServer(HttpServerOptions options, HeadHandler on_head, Handler handler,
                       Logger logger, ErrorBody error_body)
    : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
  impl_->on_head = std::move(on_head);
  impl_->handler = std::move(handler);
  impl_->logger = std::move(logger);
  impl_->error_body = error_body ? std::move(error_body) : ErrorBody(default_error_body);
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_NONBLOCK | O_CLOEXEC) != 0)
    fail("cannot create the server's wake-up pipe: {}", std::strerror(errno));
  impl_->wake_read = pipe_fds[0];
  impl_->wake_write = pipe_fds[1];
}

HttpServer::~HttpServer() {
  stop();
  std::lock_guard lock(impl_->mutex);
  impl_->workers_exit = true;
}

int HttpServer::bind() {
  if (impl_->bound_port > 0) return impl_->bound_port;
  const auto& o = impl_->options;
  if (o.port < 0 || o.port > 65535)
    fail("port {} is outside 1-65535 (0 picks a free port); pass a valid --port", o.port);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const std::string service = std::to_string(o.port);
  if (const int rc =
          ::getaddrinfo(o.host.empty() ? nullptr : o.host.c_str(), service.c_str(), &hints, &found);
      rc != 0)
    fail(
        "cannot listen on {}:{}: the host does not resolve ({}); pass an address such as "
        "127.0.0.1 or 0.0.0.0 to --host",
        o.host, o.port, ::gai_strerror(rc));
  std::string why = "no address";
  int fd = -1;
  for (addrinfo* a = found; a != nullptr && fd < 0; a = a->ai_next) {
    fd = ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) {
      why = std::strerror(errno);
      continue;
    }
    // SO_REUSEADDR only lets a restarted server bind over TIME_WAIT leftovers; it does not let a
    // second listener share the port (SO_REUSEPORT would, and split requests between them).
    const int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(fd, a->ai_addr, a->ai_addrlen) != 0 || ::listen(fd, SOMAXCONN) != 0) {
      why = errno == EADDRINUSE ? "the port is in use (another server is listening on it)"
                                : std::strerror(errno);
      ::close(fd);
      fd = -1;
    }
  }
  ::freeaddrinfo(found);
  if (fd < 0)
    fail(
        "cannot listen on {}:{}: {}; stop the other server or pick another --port (0: any free "
        "port)",
        o.host, o.port, why);
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  impl_->bound_port = addr.ss_family == AF_INET6
                          ? ntohs(reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port)
                          : ntohs(reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
  impl_->listen_fd = fd;
  // Every connection is a descriptor: keep the cap under the process's open-file limit.
  rlimit files{};
  if (::getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur != RLIM_INFINITY) {
    const auto room = static_cast<size_t>(files.rlim_cur > 64 ? files.rlim_cur - 64 : 1);
    impl_->options.max_connections = std::min(impl_->options.max_connections, room);
  }
  return impl_->bound_port;
}

void HttpServer::run() {
  bind();
  if (impl_->ran) return;
  impl_->ran = true;
  const int threads = std::max(impl_->options.worker_threads, 1);
  for (int i = 0; i < threads; ++i) impl_->workers.emplace_back([this] { impl_->worker_loop(); });
  std::exception_ptr error;
  try {
    impl_->loop();
  } catch (...) {
    error = std::current_exception();
  }
  {
    std::lock_guard lock(impl_->mutex);
    impl_->workers_exit = true;
  }
  impl_->task_cv.notify_all();
  for (auto& t : impl_->workers) t.join();
  impl_->workers.clear();
  if (error) std::rethrow_exception(error);
}

void HttpServer::stop() {
  impl_->stopping.store(true);
  impl_->wake();
}

int HttpServer::port() const {
  return impl_->bound_port;
}

int64_t HttpServer::open_connections() const {
  return impl_->open.load();
}

const HttpServerOptions& HttpServer::options() const {
  return impl_->options;
}

}  // namespace smx::serve
