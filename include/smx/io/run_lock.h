// An exclusive lock on a run folder (DIR/.lock, flock), held for the lifetime of the object: a
// second `smx pretrain --resume DIR` started while one runs fails at once instead of training the
// same run twice and interleaving its metrics.jsonl and checkpoints. The kernel drops the lock when
// the process dies, kill -9 included, so a stale lock never blocks a resume.
#pragma once

#include <string>

namespace smx::io {

class RunLock {
 public:
  // Fails naming the folder (and the holder's pid, when it wrote one) if another process holds it.
  explicit RunLock(const std::string& run_dir);
  ~RunLock();
  RunLock(const RunLock&) = delete;
  RunLock& operator=(const RunLock&) = delete;

 private:
  int fd_ = -1;
};

}  // namespace smx::io
