#include "smx/bench/peer_process.h"

#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <thread>

#include <fmt/format.h>

#include "smx/core/error.h"
#include "smx/core/json.h"

extern char** environ;

namespace smx::bench {
namespace {

constexpr size_t kMaxPeerLine = 1 << 20;  // bytes; a longer "line" is not the protocol

std::string peer_excerpt(const std::string& text) {
  std::string out = text.size() > 80 ? text.substr(0, 80) + "..." : text;
  for (char& c : out)
    if (static_cast<unsigned char>(c) < 0x20) c = ' ';
  return out;
}

std::string describe_peer_exit(int status) {
  if (WIFEXITED(status)) return fmt::format("exited with status {}", WEXITSTATUS(status));
  if (WIFSIGNALED(status))
    return fmt::format("was killed by signal {} ({})", WTERMSIG(status),
                       ::strsignal(WTERMSIG(status)));
  return "stopped";
}

}  // namespace

PeerProcess::PeerProcess(std::vector<std::string> argv, const std::vector<std::string>& env,
                         std::string name)
    : name_(std::move(name)) {
  if (argv.empty()) fail("{}: no command to start", name_);
  for (const auto& a : argv) command_ += (command_.empty() ? "" : " ") + a;
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0)
    fail("{}: socketpair failed: {}", name_, std::strerror(errno));
  // Everything the child needs is prepared before fork: only async-signal-safe calls after it.
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) env_strings.emplace_back(*e);
  for (const auto& e : env) env_strings.push_back(e);
  std::vector<char*> child_env, child_argv;
  for (auto& e : env_strings) child_env.push_back(e.data());
  child_env.push_back(nullptr);
  for (auto& a : argv) child_argv.push_back(a.data());
  child_argv.push_back(nullptr);

  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(fds[0]);
    ::close(fds[1]);
    fail("{}: fork failed: {}", name_, std::strerror(errno));
  }
  if (pid == 0) {
    // dup2 clears close-on-exec on the copies; the originals close at exec.
    if (::dup2(fds[1], STDIN_FILENO) < 0 || ::dup2(fds[1], STDOUT_FILENO) < 0) ::_exit(126);
    ::signal(SIGPIPE, SIG_DFL);
    ::execvpe(child_argv[0], child_argv.data(), child_env.data());
    ::_exit(127);  // exec failed: the parent reports status 127
  }
  ::close(fds[1]);
  pid_ = pid;
  fd_ = fds[0];
}

PeerProcess::~PeerProcess() {
  if (pid_ <= 0) return;
  const std::string quit = "{\"op\": \"quit\"}\n";
  (void)::send(fd_, quit.data(), quit.size(), MSG_NOSIGNAL);
  ::shutdown(fd_, SHUT_WR);        // EOF on its stdin as well
  for (int i = 0; i < 200; ++i) {  // up to 2 s to exit on its own
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  kill_and_reap();
}

void PeerProcess::kill_and_reap() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
  }
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
}

void PeerProcess::fail_dead(const std::string& what) {
  // The socket closed: the child is exiting or gone. Give it a moment to be reaped.
  int status = 0;
  pid_t got = 0;
  for (int i = 0; i < 300 && (got = ::waitpid(pid_, &status, WNOHANG)) == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  std::string how = "closed its stdout";
  if (got == pid_) {
    how = describe_peer_exit(status);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
      how += " (127: the command was not found or could not run)";
    pid_ = -1;
  }
  kill_and_reap();
  fail("{} ({}) {} while {}; its own error, if any, is printed above", name_, command_, how, what);
}

nlohmann::json PeerProcess::request(const nlohmann::json& message, double timeout_s,
                                    const std::string& what) {
  if (pid_ <= 0) fail("{}: not running (an earlier error stopped it); cannot do {}", name_, what);
  const std::string line = message.dump() + "\n";
  for (size_t sent = 0; sent < line.size();) {
    const ssize_t n = ::send(fd_, line.data() + sent, line.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) fail_dead(what);
    sent += static_cast<size_t>(n);
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
  size_t newline = std::string::npos;
  while ((newline = pending_.find('\n')) == std::string::npos) {
    if (pending_.size() > kMaxPeerLine) {
      const std::string head = peer_excerpt(pending_);
      kill_and_reap();
      fail(
          "{}: answer to {} is over {} bytes without a newline ('{}'); it is not the JSON-lines "
          "protocol (bench/peers/torch_peer.py --serve)",
          name_, what, kMaxPeerLine, head);
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      kill_and_reap();
      fail(
          "{}: no answer within {} s while {}; it was killed. Raise --peer-timeout if it is "
          "only slow",
          name_, timeout_s, what);
    }
    pollfd p{fd_, POLLIN, 0};
    const int ready = ::poll(&p, 1, static_cast<int>(std::min<int64_t>(left.count(), 1000)));
    if (ready < 0 && errno != EINTR) fail("{}: poll failed: {}", name_, std::strerror(errno));
    if (ready <= 0) continue;
    char buffer[65536];
    const ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) fail_dead(what);
    pending_.append(buffer, static_cast<size_t>(n));
  }
  const std::string answer_text = pending_.substr(0, newline);
  pending_.erase(0, newline + 1);
  const std::string source = fmt::format("{} answer to {}", name_, what);
  if (!json_is_valid(answer_text)) {
    kill_and_reap();
    fail(
        "{}: '{}' is not a JSON line; the peer must print nothing but protocol lines on stdout "
        "(log to stderr)",
        source, peer_excerpt(answer_text));
  }
  nlohmann::json answer = parse_json(answer_text, source);
  if (!answer.is_object() || !answer.contains("ok") || !answer.at("ok").is_boolean()) {
    kill_and_reap();
    fail("{}: '{}' is not a protocol answer (an object with a boolean \"ok\")", source,
         peer_excerpt(answer_text));
  }
  if (!answer.at("ok").get<bool>()) {
    const auto& e = answer.value("error", nlohmann::json("no reason given"));
    fail("{} failed {}: {}", name_, what, e.is_string() ? e.get<std::string>() : e.dump());
  }
  return answer;
}

}  // namespace smx::bench
