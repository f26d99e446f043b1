// A long-lived child process spoken to in JSON lines: one request line on its stdin, one answer
// line on its stdout. `smx bench --peer` drives the PyTorch eager peer this way so that each of its
// measurements sits right next to smx's measurement of the same case (src/bench/peer.cpp).
//
// Every wait has a deadline: a child that dies, stops answering or writes anything but one JSON
// object per line is an smx::Error naming the request, never a hang. stdin and stdout are one
// Unix socket pair, so writing to a dead child is an error return, not SIGPIPE.
#pragma once

#include <string>
#include <vector>

#include <sys/types.h>

#include <nlohmann/json.hpp>

namespace smx::bench {

class PeerProcess {
 public:
  // Starts argv[0] (searched in PATH) with `env` ("KEY=VALUE") added to this process's
  // environment; its stderr stays ours (the peer's own messages reach the terminal).
  // `name` is used in error messages ("the PyTorch peer").
  PeerProcess(std::vector<std::string> argv, const std::vector<std::string>& env, std::string name);
  ~PeerProcess();  // asks it to quit ({"op": "quit"}), then kills it after 2 s
  PeerProcess(const PeerProcess&) = delete;
  PeerProcess& operator=(const PeerProcess&) = delete;

  // Sends `request` as one line and waits up to `timeout_s` for one answer line. The answer must
  // be a JSON object; {"ok": false, "error": E} becomes an smx::Error carrying E. `what` names the
  // request in messages ("building case 'bert-base'").
  nlohmann::json request(const nlohmann::json& request, double timeout_s, const std::string& what);

  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }

 private:
  [[noreturn]] void fail_dead(const std::string& what);  // reaps the child, says how it ended
  void kill_and_reap();

  std::string name_;
  std::string command_;  // argv joined, for messages
  pid_t pid_ = -1;
  int fd_ = -1;          // our end of the socket pair
  std::string pending_;  // bytes read after the last complete line
};

}  // namespace smx::bench
