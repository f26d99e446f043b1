#include "smx/serve/batcher.h"

#include <algorithm>
#include <exception>

namespace smx::serve {

using Clock = BatchJob::Clock;

BatchJob::BatchJob(std::vector<tasks::EncodedInput> inputs, OutputKind kind)
    : inputs_(std::move(inputs)),
      kind_(kind),
      outputs_(inputs_.size()),
      enqueued_(Clock::now()),
      remaining_(inputs_.size()) {}

bool BatchJob::wait_until(Clock::time_point deadline) {
  std::unique_lock lock(mutex_);
  return cv_.wait_until(lock, deadline, [this] { return done_; });
}

void BatchJob::finish_one(ExampleOutput output, size_t index) {
  std::lock_guard lock(mutex_);
  if (done_) return;  // failed earlier
  outputs_[index] = std::move(output);
  if (--remaining_ == 0) {
    done_ = true;
    cv_.notify_all();
  }
}

void BatchJob::fail(const std::string& error) {
  std::lock_guard lock(mutex_);
  if (done_) return;
  error_ = error;
  done_ = true;
  cv_.notify_all();
}

Batcher::Batcher(std::shared_ptr<const InferenceEngine> engine, BatcherOptions options,
                 std::function<void(const BatchReport&)> on_batch)
    : engine_(std::move(engine)), options_(options), on_batch_(std::move(on_batch)) {
  options_.max_batch_size = std::max<int64_t>(options_.max_batch_size, 1);
  thread_ = std::thread([this] { loop(); });
}

Batcher::~Batcher() {
  stop();
}

void Batcher::announce() {
  std::lock_guard lock(mutex_);
  ++announced_;
}

void Batcher::withdraw() {
  {
    std::lock_guard lock(mutex_);
    --announced_;
  }
  cv_.notify_one();
}

std::shared_ptr<BatchJob> Batcher::submit(std::vector<tasks::EncodedInput> inputs, OutputKind kind,
                                          bool announced) {
  auto job = std::make_shared<BatchJob>(std::move(inputs), kind);
  const auto n = static_cast<int64_t>(job->inputs().size());
  {
    std::lock_guard lock(mutex_);
    if (announced) --announced_;
    if (stopping_ || queued_.load() + n > options_.max_queue) {
      if (announced) cv_.notify_one();
      return nullptr;
    }
    for (size_t i = 0; i < job->inputs().size(); ++i) queue_.push_back({job, i});
    queued_ += n;
  }
  cv_.notify_one();
  return job;
}

void Batcher::drain() {
  {
    std::lock_guard lock(mutex_);
    draining_ = true;
  }
  cv_.notify_one();
}

void Batcher::stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopped_) return;
    stopped_ = stopping_ = draining_ = true;
  }
  cv_.notify_one();
  if (thread_.joinable()) thread_.join();
}

bool Batcher::batch_ready_locked() const {
  int64_t count = 0, longest = 0;
  for (const auto& item : queue_) {
    if (count == options_.max_batch_size) return true;
    longest = std::max<int64_t>(longest, item.job->inputs()[item.index].input_ids.size());
    if (engine_->batch_cost(count + 1, longest) > options_.max_batch_tokens) return true;
    ++count;
  }
  return count == options_.max_batch_size;
}

std::vector<Batcher::Item> Batcher::take_batch_locked() {
  std::vector<Item> batch;
  int64_t longest = 0;
  while (!queue_.empty()) {
    Item& item = queue_.front();
    if (item.job->cancelled_.load()) {  // its caller has given up (timeout)
      queue_.pop_front();
      --queued_;
      continue;
    }
    const auto n = static_cast<int64_t>(item.job->inputs()[item.index].input_ids.size());
    const auto count = static_cast<int64_t>(batch.size()) + 1;
    if (!batch.empty() &&
        (count > options_.max_batch_size ||
         engine_->batch_cost(count, std::max(longest, n)) > options_.max_batch_tokens))
      break;
    longest = std::max(longest, n);
    batch.push_back(std::move(item));
    queue_.pop_front();
    --queued_;
  }
  return batch;
}

void Batcher::loop() {
  std::unique_lock lock(mutex_);
  while (true) {
    cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) {
      if (stopping_) return;
      continue;
    }
    const auto deadline =
        queue_.front().job->enqueued_ + std::chrono::microseconds(options_.max_wait_us);
    while (!draining_ && !queue_.empty() && !batch_ready_locked() && Clock::now() < deadline &&
           (!options_.wait_only_for_announced || announced_ > 0))
      cv_.wait_until(lock, deadline);
    std::vector<Item> batch = take_batch_locked();
    if (batch.empty()) continue;
    lock.unlock();
    run_batch(batch);
    lock.lock();
  }
}

void Batcher::run_batch(std::vector<Item>& batch) {
  BatchReport report;
  std::vector<BatchRequest> requests;
  int64_t longest = 0;
  const auto start = Clock::now();
  for (const auto& item : batch) {
    const auto& input = item.job->inputs()[item.index];
    requests.push_back({&input, item.job->kind()});
    report.tokens += static_cast<int64_t>(input.input_ids.size());
    longest = std::max<int64_t>(longest, input.input_ids.size());
    report.max_queue_seconds =
        std::max(report.max_queue_seconds,
                 std::chrono::duration<double>(start - item.job->enqueued_).count());
  }
  report.inputs = static_cast<int64_t>(batch.size());
  report.padded_tokens = engine_->batch_cost(report.inputs, longest);
  std::vector<ExampleOutput> outputs;
  std::string error;
  try {
    outputs = engine_->run(requests);
  } catch (const std::exception& e) {
    error = e.what();
  }
  report.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  // Counted before any of its requests is answered: a client that reads /metrics after its
  // reply finds its batch there.
  if (on_batch_) on_batch_(report);
  if (!error.empty()) {
    for (auto& item : batch) item.job->fail("model call failed: " + error);
    return;
  }
  for (size_t i = 0; i < batch.size(); ++i)
    batch[i].job->finish_one(std::move(outputs[i]), batch[i].index);
}

}  // namespace smx::serve
