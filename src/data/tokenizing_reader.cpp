#include "smx/data/tokenizing_reader.h"

#include <chrono>

#include "smx/core/error.h"
#include "smx/tokenizer/tokenizer.h"

namespace smx {
namespace {

using Clock = std::chrono::steady_clock;

uint64_t nanoseconds_since(Clock::time_point start) {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - start).count());
}

}  // namespace

ReaderBusy TokenizingReader::busy() const {
  ReaderBusy b;
  b.read_s = 1e-9 * static_cast<double>(read_ns_.load());
  b.tokenize_s = 1e-9 * static_cast<double>(tokenize_ns_.load());
  b.wait_s = 1e-9 * static_cast<double>(wait_ns_.load());
  return b;
}

TokenizingReader::TokenizingReader(std::shared_ptr<const Tokenizer> tokenizer, TextCorpus corpus,
                                   std::function<bool(uint64_t)> takes, bool wrap,
                                   std::size_t queue_documents)
    : tokenizer_(std::move(tokenizer)),
      corpus_(std::move(corpus)),
      files_(corpus_.files()),
      sizes_(corpus_.file_sizes()),
      takes_(std::move(takes)),
      wrap_(wrap),
      capacity_(std::max<std::size_t>(1, queue_documents)),
      workers_(static_cast<std::size_t>(corpus_.options().workers)),
      bad_seen_(corpus_.bad_records()) {
  if (!tokenizer_) fail("tokenizing reader: no tokenizer given");
}

TokenizingReader::~TokenizingReader() {
  stop();
}

TokenizedDocument TokenizingReader::read_one(std::vector<std::string>& text) {
  TokenizedDocument item;
  for (;;) {
    auto doc = corpus_.next();
    if (!doc) {
      item.end_of_pass = true;
      if (wrap_) corpus_.rewind();
      break;
    }
    if (!takes_(doc->index)) continue;
    item.index = doc->index;
    text = std::move(doc->lines);
    break;
  }
  item.after = corpus_.position();
  item.bad_records = corpus_.bad_records() - bad_seen_;
  if (item.bad_records > 0) item.bad_record = corpus_.last_bad_record();
  bad_seen_ = corpus_.bad_records();
  return item;
}

void TokenizingReader::tokenize(TokenizedDocument& item,
                                const std::vector<std::string>& lines) const {
  item.lines.reserve(lines.size());
  for (const auto& line : lines) {
    auto ids = tokenizer_->encode(line);
    if (ids.empty()) continue;  // a line that encodes to nothing is no segment unit
    item.tokens += ids.size();
    item.lines.push_back(std::move(ids));
  }
}

TokenizedDocument TokenizingReader::next() {
  if (error_) std::rethrow_exception(error_);
  if (pass_ended_) fail("tokenizing reader: next() after the end of an evaluation pass");
  if (workers_ == 0) {
    std::vector<std::string> text;
    try {
      auto start = Clock::now();
      TokenizedDocument item = read_one(text);
      read_ns_ += nanoseconds_since(start);
      start = Clock::now();
      tokenize(item, text);
      tokenize_ns_ += nanoseconds_since(start);
      if (item.end_of_pass && !wrap_) pass_ended_ = true;
      return item;
    } catch (...) {
      error_ = std::current_exception();
      throw;
    }
  }
  if (!running_) start();
  const auto start = Clock::now();
  std::unique_lock<std::mutex> lock(mutex_);
  consumer_cv_.wait(lock, [&] { return done_.count(next_out_) > 0; });
  wait_ns_ += nanoseconds_since(start);
  auto node = done_.extract(next_out_);
  ++next_out_;
  lock.unlock();
  reader_cv_.notify_one();
  Job& job = node.mapped();
  if (job.error) {
    error_ = job.error;
    std::rethrow_exception(error_);
  }
  if (job.item.end_of_pass && !wrap_) pass_ended_ = true;
  return std::move(job.item);
}

void TokenizingReader::start() {
  stop_ = false;
  running_ = true;
  reader_ = std::thread([this] { run_reader(); });
  for (std::size_t i = 0; i < workers_; ++i) pool_.emplace_back([this] { run_worker(); });
}

void TokenizingReader::stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  reader_cv_.notify_all();
  worker_cv_.notify_all();
  if (reader_.joinable()) reader_.join();
  for (auto& t : pool_) t.join();
  pool_.clear();
  jobs_.clear();
  done_.clear();
  running_ = false;
}

void TokenizingReader::seek(const CorpusPosition& position) {
  stop();
  corpus_.seek(position);
  bad_seen_ = corpus_.bad_records();
  next_sequence_ = next_out_ = 0;
  pass_ended_ = false;
  error_ = nullptr;
}

void TokenizingReader::run_reader() {
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mutex_);
      reader_cv_.wait(lock, [&] { return stop_ || next_sequence_ - next_out_ < capacity_; });
      if (stop_) return;
    }
    Job job;
    const auto start = Clock::now();
    try {
      job.item = read_one(job.text);
    } catch (...) {
      job.error = std::current_exception();
    }
    read_ns_ += nanoseconds_since(start);
    const bool last = job.error || (job.item.end_of_pass && !wrap_);
    const bool ready = job.error || job.text.empty();
    {
      std::lock_guard<std::mutex> lock(mutex_);
      job.sequence = next_sequence_++;
      if (ready) {
        const uint64_t sequence = job.sequence;
        done_.emplace(sequence, std::move(job));
      } else {
        jobs_.push_back(std::move(job));
      }
    }
    if (ready) {
      consumer_cv_.notify_one();
    } else {
      worker_cv_.notify_one();
    }
    if (last) return;  // an error, or the end of an evaluation pass: nothing more to read
  }
}

void TokenizingReader::run_worker() {
  for (;;) {
    Job job;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      worker_cv_.wait(lock, [&] { return stop_ || !jobs_.empty(); });
      if (stop_) return;
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    const auto start = Clock::now();
    try {
      tokenize(job.item, job.text);
    } catch (...) {
      job.error = std::current_exception();
    }
    tokenize_ns_ += nanoseconds_since(start);
    job.text.clear();
    {
      std::lock_guard<std::mutex> lock(mutex_);
      const uint64_t sequence = job.sequence;
      done_.emplace(sequence, std::move(job));
    }
    consumer_cv_.notify_one();
  }
}

}  // namespace smx
