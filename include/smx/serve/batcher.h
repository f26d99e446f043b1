// Dynamic batching across concurrent requests: callers submit a job (one request's tokenized
// inputs) and wait on it; one batcher thread takes queued inputs in arrival order until the batch's
// padded cost reaches max_batch_tokens (or max_batch_size inputs, or the oldest input has waited
// max_wait), runs one model call, and completes the jobs whose inputs are all done. A job's inputs
// may be spread over several model calls.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "smx/serve/inference.h"

namespace smx::serve {

struct BatcherOptions {
  int64_t max_batch_tokens = 4096;  // padded tokens (inputs x padded length) per model call
  int64_t max_batch_size = 128;     // inputs per model call
  int64_t max_wait_us = 2000;       // how long the oldest input waits for batch-mates
  int64_t max_queue = 2048;         // queued inputs; submit() refuses jobs beyond it
  // Wait for batch-mates only while some caller has announce()d a job it has not submitted yet
  // (a request being read or tokenized): a lone request runs at once instead of idling max_wait.
  bool wait_only_for_announced = false;
};

// What one model call did, for metrics.
struct BatchReport {
  int64_t inputs = 0;
  int64_t tokens = 0;            // real tokens
  int64_t padded_tokens = 0;     // inputs x padded length
  double seconds = 0;            // model call
  double max_queue_seconds = 0;  // longest wait in the queue among the batch's inputs
};

class BatchJob {
 public:
  using Clock = std::chrono::steady_clock;

  BatchJob(std::vector<tasks::EncodedInput> inputs, OutputKind kind);

  // Blocks until every input is done or failed, or until `deadline`; true when done.
  bool wait_until(Clock::time_point deadline);
  // Stop caring: inputs not yet in a model call are skipped.
  void cancel() { cancelled_.store(true); }

  const std::vector<tasks::EncodedInput>& inputs() const { return inputs_; }
  OutputKind kind() const { return kind_; }
  // Valid after wait_until() returned true and error() is empty.
  const std::vector<ExampleOutput>& outputs() const { return outputs_; }
  const std::string& error() const { return error_; }

 private:
  friend class Batcher;
  void finish_one(ExampleOutput output, size_t index);
  void fail(const std::string& error);

  std::vector<tasks::EncodedInput> inputs_;
  OutputKind kind_;
  std::vector<ExampleOutput> outputs_;
  std::string error_;
  std::atomic<bool> cancelled_{false};
  Clock::time_point enqueued_;
  size_t remaining_;
  bool done_ = false;
  std::mutex mutex_;
  std::condition_variable cv_;
};

class Batcher {
 public:
  Batcher(std::shared_ptr<const InferenceEngine> engine, BatcherOptions options,
          std::function<void(const BatchReport&)> on_batch = {});
  ~Batcher();
  Batcher(const Batcher&) = delete;
  Batcher& operator=(const Batcher&) = delete;

  // Queues the job's inputs; nullptr when the queue is full (the caller answers 503) or the
  // batcher has stopped.
  std::shared_ptr<BatchJob> submit(std::vector<tasks::EncodedInput> inputs, OutputKind kind,
                                   bool announced = false);
  // A job is on its way (its request is being parsed): worth waiting up to max_wait for.
  // Every announce() is matched by one submit(..., announced=true) or withdraw().
  void announce();
  void withdraw();
  // From now on run whatever is queued without waiting for batch-mates (shutdown).
  void drain();
  // Runs everything already queued, then joins the thread. Idempotent.
  void stop();

  int64_t queue_depth() const { return queued_.load(); }
  const BatcherOptions& options() const { return options_; }

 private:
  struct Item {
    std::shared_ptr<BatchJob> job;
    size_t index;
  };
  void loop();
  bool batch_ready_locked() const;  // a full batch is queued
  std::vector<Item> take_batch_locked();
  void run_batch(std::vector<Item>& batch);

  std::shared_ptr<const InferenceEngine> engine_;
  BatcherOptions options_;
  std::function<void(const BatchReport&)> on_batch_;
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<Item> queue_;
  std::atomic<int64_t> queued_{0};
  int64_t announced_ = 0;  // guarded by mutex_
  bool draining_ = false, stopping_ = false, stopped_ = false;
  std::thread thread_;
};

}  // namespace smx::serve
