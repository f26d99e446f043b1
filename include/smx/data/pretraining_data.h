// PretrainingStream: BERT-style pre-training batches (MLM + sentence-order NSP, docs/design.md
// §4.2-4.3) from corpus shards (text_corpus.h), produced on a background thread.
//
// What the batches contain and how they are drawn: pretraining_generator.h. Sharding is by document
// (rank r reads documents d with d % world_size == r); the held-out eval split is a hash of the
// document index (text_corpus.h). Both are fixed by the document index alone, so shards of one
// split are disjoint and together cover it, and train and eval never share a document.
//
// Threading: one worker thread fills a queue of at most prefetch_batches batches (documents are
// tokenized on options.corpus.workers more threads before it, see tokenizing_reader.h); it starts
// at the first next_batch() and stops (joined) in restore() and the destructor. An exception in the
// worker (bad corpus line, ...) is rethrown by next_batch(), and again by every later call.
//
// Resume: state() describes the stream just after the last batch next_batch() returned (not the
// prefetched ones); a stream constructed from it, or restore()d to it, returns bit-identical
// batches to the uninterrupted stream.
#pragma once

#include <condition_variable>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "smx/data/pretraining_generator.h"
#include "smx/data/pretraining_options.h"

namespace smx {

class Tokenizer;

// What the pipeline has done so far; the trainer logs the change between two log lines.
// Stage by stage the pipeline is: read (one thread) -> tokenize (`workers` threads) -> pack,
// shuffle, mask, batch (one thread). Between two stats, its throughput is the batch tokens over the
// busiest stage's time: what it can deliver when nothing downstream holds it back, whatever the
// queues held.
struct PretrainingStreamStats;
double pipeline_tokens_per_s(const PretrainingStreamStats& before,
                             const PretrainingStreamStats& now);

struct PretrainingStreamStats {
  uint64_t batches = 0;         // produced by the worker, prefetched ones included
  uint64_t tokens = 0;          // real (unpadded) tokens in those batches
  double busy_s = 0;            // worker time spent producing them, not waiting for queue space
  ReaderBusy reader;            // the stages before it: reading, tokenizing, waiting for both
  int64_t workers = 0;          // tokenizer threads
  uint64_t bad_records = 0;     // corpus records skipped as bad, up to the last batch handed out
  std::string last_bad_record;  // why the last of them was skipped
};

class PretrainingStream {
 public:
  PretrainingStream(std::shared_ptr<const Tokenizer> tokenizer, std::vector<std::string> files,
                    PretrainingOptions options);
  // Same, then restore(state).
  PretrainingStream(std::shared_ptr<const Tokenizer> tokenizer, std::vector<std::string> files,
                    PretrainingOptions options, const std::string& state);
  ~PretrainingStream();
  PretrainingStream(const PretrainingStream&) = delete;
  PretrainingStream& operator=(const PretrainingStream&) = delete;

  // The next batch; nullopt when an eval pass is over (a training stream never ends).
  std::optional<PretrainingBatch> next_batch();
  // JSON resume state (format: pretraining_generator.cpp), a few MB with a full 1024-slot buffer.
  std::string state() const;
  void restore(const std::string& state);

  const PretrainingOptions& options() const { return generator_.options(); }
  // From the thread that calls next_batch() (its bad-record count is the consumed state's).
  PretrainingStreamStats stats() const;

 private:
  struct Item {
    std::optional<PretrainingBatch> batch;  // nullopt: end of the eval pass
    PretrainingState state;                 // the generator just after producing it
    std::exception_ptr error;
  };

  void start_worker();
  void stop_worker();
  void run_worker();

  PretrainingGenerator generator_;   // used only by the worker while it runs
  PretrainingState consumed_state_;  // after the last batch handed out

  mutable std::mutex mutex_;
  std::condition_variable not_empty_, not_full_;
  std::deque<Item> queue_;
  bool stop_ = false;
  bool ended_ = false;        // the consumer has seen the end of the eval pass
  std::exception_ptr error_;  // the consumer has seen the worker fail
  uint64_t produced_batches_ = 0, produced_tokens_ = 0;  // under mutex_
  double busy_s_ = 0;                                    // under mutex_
  std::thread worker_;
};

}  // namespace smx
