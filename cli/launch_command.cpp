// smx launch: runs N local copies of a command as one distributed job, like torchrun on one host.
// Each child gets MASTER_ADDR=127.0.0.1, a free MASTER_PORT, RANK, WORLD_SIZE, LOCAL_RANK and
// LOCAL_WORLD_SIZE, in a process group of its own; SIGINT/SIGTERM/SIGHUP reaching the launcher are
// forwarded to every child. When a child fails (non-zero exit or a signal), the others get SIGTERM
// and, after --grace seconds, SIGKILL; the launcher then exits with the failed child's status.
// A launcher that dies without forwarding anything (kill -9) takes its ranks with it: each child
// asks the kernel for SIGTERM when its parent goes (PR_SET_PDEATHSIG), so it checkpoints and exits.
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include "commands.h"
#include "smx/core/error.h"

namespace smx::cli {
namespace {

// Children's pids, for the signal handler (async-signal-safe: plain array reads and kill()).
constexpr int kMaxProcs = 1024;
pid_t g_children[kMaxProcs];
volatile sig_atomic_t g_count = 0;

extern "C" void forward_signal(int sig) {
  for (int i = 0; i < g_count; ++i)
    if (g_children[i] > 0) ::kill(g_children[i], sig);
}

// A TCP port that is free now (the kernel's pick; rank 0 binds it a moment later).
int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) fail("smx launch: cannot open a socket to pick a port: {}", std::strerror(errno));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ::close(fd);
    fail("smx launch: cannot pick a free port: {}; pass --master-port", std::strerror(errno));
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

std::string describe_status(int status) {
  if (WIFEXITED(status)) return fmt::format("exit status {}", WEXITSTATUS(status));
  if (WIFSIGNALED(status))
    return fmt::format("signal {} ({})", WTERMSIG(status), strsignal(WTERMSIG(status)));
  return "unknown status";
}

// "smx" as the command means this very binary, so a launch never mixes two builds.
std::string resolve_program(const std::string& program) {
  if (program != "smx") return program;
  std::vector<char> path(4096);
  const ssize_t n = ::readlink("/proc/self/exe", path.data(), path.size() - 1);
  return n > 0 ? std::string(path.data(), static_cast<size_t>(n)) : program;
}

int launch(int nproc, int port, double grace_s, std::vector<std::string> command) {
  if (nproc < 1 || nproc > kMaxProcs)
    fail("smx launch: --nproc must be in [1, {}] (got {})", kMaxProcs, nproc);
  if (command.empty())
    fail("smx launch: no command; usage: smx launch --nproc N -- smx pretrain ...");
  if (port == 0) port = free_port();
  command[0] = resolve_program(command[0]);
  std::vector<char*> argv;
  for (auto& a : command) argv.push_back(a.data());
  argv.push_back(nullptr);

  struct sigaction action {};
  action.sa_handler = forward_signal;
  sigemptyset(&action.sa_mask);
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) sigaction(sig, &action, nullptr);

  std::fprintf(stderr, "smx launch: %d processes, rendezvous 127.0.0.1:%d: %s\n", nproc, port,
               command[0].c_str());
  std::vector<pid_t> pids(nproc, -1);
  const pid_t launcher = ::getpid();
  for (int rank = 0; rank < nproc; ++rank) {
    const pid_t pid = ::fork();
    if (pid < 0) {
      forward_signal(SIGKILL);
      fail("smx launch: fork failed for rank {}: {}", rank, std::strerror(errno));
    }
    if (pid == 0) {
      ::setpgid(0, 0);  // the terminal's Ctrl-C reaches the launcher only, which forwards it once
      for (int sig : {SIGINT, SIGTERM, SIGHUP}) std::signal(sig, SIG_DFL);
      // Survives execvp; the getppid() check closes the race with a launcher that died before it.
      if (::prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || ::getppid() != launcher)
        ::_exit(128 + SIGTERM);
      const std::pair<const char*, std::string> vars[] = {
          {"MASTER_ADDR", "127.0.0.1"},         {"MASTER_PORT", std::to_string(port)},
          {"RANK", std::to_string(rank)},       {"WORLD_SIZE", std::to_string(nproc)},
          {"LOCAL_RANK", std::to_string(rank)}, {"LOCAL_WORLD_SIZE", std::to_string(nproc)}};
      for (const auto& [name, value] : vars) ::setenv(name, value.c_str(), 1);
      ::execvp(argv[0], argv.data());
      std::fprintf(stderr, "smx launch: rank %d: cannot run '%s': %s\n", rank, argv[0],
                   std::strerror(errno));
      ::_exit(127);
    }
    pids[rank] = pid;
    g_children[rank] = pid;
    g_count = rank + 1;
  }

  int remaining = nproc, exit_code = 0;
  bool stopping = false;
  auto deadline = std::chrono::steady_clock::time_point::max();
  while (remaining > 0) {
    int status = 0;
    const pid_t pid = ::waitpid(-1, &status, stopping ? WNOHANG : 0);
    if (pid < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (pid == 0) {  // stopping, nobody exited yet: escalate after the grace period
      if (std::chrono::steady_clock::now() >= deadline) {
        forward_signal(SIGKILL);
        deadline = std::chrono::steady_clock::time_point::max();
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      continue;
    }
    int rank = 0;
    while (rank < nproc && pids[rank] != pid) ++rank;
    if (rank == nproc) continue;
    g_children[rank] = -1;
    --remaining;
    const bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    if (!ok && !stopping) {
      std::fprintf(stderr,
                   "smx launch: rank %d (pid %d) failed with %s; stopping the other %d rank(s)\n",
                   rank, static_cast<int>(pid), describe_status(status).c_str(), remaining);
      exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      stopping = true;
      forward_signal(SIGTERM);
      deadline = std::chrono::steady_clock::now() +
                 std::chrono::milliseconds(static_cast<int64_t>(grace_s * 1000));
    }
  }
  if (exit_code == 0) std::fprintf(stderr, "smx launch: all %d ranks finished\n", nproc);
  return exit_code;
}

}  // namespace

void register_launch_command(CLI::App& app) {
  struct Options {
    int nproc = 1, port = 0;
    double grace_s = 30;
    std::vector<std::string> command;
  };
  auto o = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand(
      "launch", "Run N local processes of a command as one distributed job (like torchrun)");
  cmd->add_option("--nproc,-n", o->nproc, "Processes (ranks) to start")->required();
  cmd->add_option("--master-port", o->port, "Rendezvous port (0: pick a free one)")
      ->capture_default_str();
  cmd->add_option("--grace", o->grace_s,
                  "Seconds the other ranks get to exit after one fails, before SIGKILL")
      ->capture_default_str();
  cmd->add_option("command", o->command, "The command after --, e.g. -- smx pretrain ...")
      ->required();
  cmd->callback([o] {
    const int code = launch(o->nproc, o->port, o->grace_s, o->command);
    if (code != 0) std::exit(code);
  });
}

}  // namespace smx::cli
