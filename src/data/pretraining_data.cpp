#include "smx/data/pretraining_data.h"

#include <algorithm>
#include <chrono>

#include "smx/tokenizer/tokenizer.h"

namespace smx {

PretrainingStream::PretrainingStream(std::shared_ptr<const Tokenizer> tokenizer,
                                     std::vector<std::string> files, PretrainingOptions options)
    : generator_(std::move(tokenizer), std::move(files), std::move(options)),
      consumed_state_(generator_.snapshot()) {}

PretrainingStream::PretrainingStream(std::shared_ptr<const Tokenizer> tokenizer,
                                     std::vector<std::string> files, PretrainingOptions options,
                                     const std::string& state)
    : PretrainingStream(std::move(tokenizer), std::move(files), std::move(options)) {
  restore(state);
}

PretrainingStream::~PretrainingStream() {
  stop_worker();
}

void PretrainingStream::start_worker() {
  if (worker_.joinable()) return;
  stop_ = false;
  worker_ = std::thread([this] { run_worker(); });
}

void PretrainingStream::stop_worker() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  not_full_.notify_all();
  if (worker_.joinable()) worker_.join();
  std::lock_guard<std::mutex> lock(mutex_);
  queue_.clear();
}

void PretrainingStream::run_worker() {
  const auto capacity = static_cast<std::size_t>(generator_.options().prefetch_batches);
  for (;;) {
    Item item;
    const auto begin = std::chrono::steady_clock::now();
    try {
      item.batch = generator_.next_batch();
      item.state = generator_.snapshot();
    } catch (...) {
      item.error = std::current_exception();
    }
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count();
    const bool last = !item.batch || item.error;
    std::unique_lock<std::mutex> lock(mutex_);
    busy_s_ += seconds;
    if (item.batch) {
      ++produced_batches_;
      produced_tokens_ += static_cast<uint64_t>(item.batch->real_tokens);
    }
    not_full_.wait(lock, [&] { return stop_ || queue_.size() < capacity; });
    if (stop_) return;
    queue_.push_back(std::move(item));
    lock.unlock();
    not_empty_.notify_one();
    if (last) return;  // the end of an eval pass, or an error: nothing more to produce
  }
}

std::optional<PretrainingBatch> PretrainingStream::next_batch() {
  if (error_) std::rethrow_exception(error_);
  if (ended_) return std::nullopt;
  start_worker();
  std::unique_lock<std::mutex> lock(mutex_);
  not_empty_.wait(lock, [&] { return !queue_.empty(); });
  Item item = std::move(queue_.front());
  queue_.pop_front();
  lock.unlock();
  not_full_.notify_one();
  if (item.error) {
    error_ = item.error;
    std::rethrow_exception(error_);
  }
  consumed_state_ = std::move(item.state);
  if (!item.batch) ended_ = true;
  return std::move(item.batch);
}

double pipeline_tokens_per_s(const PretrainingStreamStats& before,
                             const PretrainingStreamStats& now) {
  const double read = now.reader.read_s - before.reader.read_s;
  const double tokenize = (now.reader.tokenize_s - before.reader.tokenize_s) /
                          static_cast<double>(std::max<int64_t>(1, now.workers));
  // The batching thread's own work; inline (0 workers) reading and tokenizing happen inside it.
  const double batching = (now.busy_s - before.busy_s) - (now.reader.wait_s - before.reader.wait_s);
  const double slowest = now.workers > 0 ? std::max({read, tokenize, batching}) : batching;
  return slowest > 0 ? static_cast<double>(now.tokens - before.tokens) / slowest : 0.0;
}

PretrainingStreamStats PretrainingStream::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  PretrainingStreamStats s;
  s.reader = generator_.reader_busy();
  s.workers = generator_.options().corpus.workers;
  s.batches = produced_batches_;
  s.tokens = produced_tokens_;
  s.busy_s = busy_s_;
  s.bad_records = consumed_state_.bad_records;
  s.last_bad_record = consumed_state_.last_bad_record;
  return s;
}

std::string PretrainingStream::state() const {
  return generator_.serialize(consumed_state_);
}

void PretrainingStream::restore(const std::string& state) {
  stop_worker();
  // The worker ran ahead of the consumer; go back first so that a rejected state changes nothing.
  generator_.restore(consumed_state_);
  generator_.restore(state);
  consumed_state_ = generator_.snapshot();
  ended_ = false;
  error_ = nullptr;
}

}  // namespace smx
