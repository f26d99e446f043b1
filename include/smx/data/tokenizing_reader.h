// TokenizingReader: the corpus's documents, tokenized, in corpus order, on `workers` threads.
//
// One reader thread walks the corpus (decompression and line splitting are sequential) and hands
// each document this stream takes (see `takes`) to a pool of worker threads that parse nothing
// further and tokenize it; results are put back in corpus order before next() returns them, so
// the output is identical for any number of workers. At most `queue_documents` documents are in
// flight (read but not yet returned), which bounds memory. workers == 0 reads and tokenizes on the
// caller's thread.
//
// A pass over the corpus ends with an end-of-pass item. With `wrap` (training) the reader goes on
// with the next pass at once; without it (evaluation) nothing follows the end-of-pass item.
//
// Errors (a bad record without skip_bad_records, a tokenizer failure) are returned in order: next()
// throws when it reaches the failed document, after every document before it.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "smx/data/text_corpus.h"

namespace smx {

class Tokenizer;

// Seconds each stage has worked so far (for the pipeline's throughput in the training log).
struct ReaderBusy {
  double read_s = 0;      // the reader: decompressing, splitting, parsing (not waiting for room)
  double tokenize_s = 0;  // the workers together (inline: on the caller's thread)
  double wait_s = 0;      // next() blocked until the next document was ready
};

struct TokenizedDocument {
  bool end_of_pass = false;                 // no document: the pass over the corpus ended
  uint64_t index = 0;                       // global document index (text_corpus.h)
  std::vector<std::vector<int32_t>> lines;  // non-empty encodings of its lines, in order
  uint64_t tokens = 0;                      // sum of the line lengths
  CorpusPosition after;                     // where reading continues after this item
  uint64_t bad_records = 0;                 // records skipped as bad since the previous item
  std::string bad_record;                   // why the last of them was skipped
};

class TokenizingReader {
 public:
  TokenizingReader(std::shared_ptr<const Tokenizer> tokenizer, TextCorpus corpus,
                   std::function<bool(uint64_t)> takes, bool wrap, std::size_t queue_documents);
  ~TokenizingReader();
  TokenizingReader(const TokenizingReader&) = delete;
  TokenizingReader& operator=(const TokenizingReader&) = delete;

  // The next item. Without wrap, calling it again after the end-of-pass item is an error.
  TokenizedDocument next();
  // Stops the threads and continues from `position` (a TokenizedDocument::after).
  void seek(const CorpusPosition& position);

  // Safe from any thread.
  ReaderBusy busy() const;
  std::size_t workers() const { return workers_; }
  // Immutable after construction: safe from any thread.
  const std::vector<std::string>& files() const { return files_; }
  const std::vector<uint64_t>& file_sizes() const { return sizes_; }

 private:
  struct Job {
    uint64_t sequence = 0;
    TokenizedDocument item;
    std::vector<std::string> text;  // lines still to tokenize
    std::exception_ptr error;
  };

  // Reads the next item from the corpus; its lines, not yet tokenized, go to `text`.
  TokenizedDocument read_one(std::vector<std::string>& text);
  void tokenize(TokenizedDocument& item, const std::vector<std::string>& lines) const;
  void start();
  void stop();
  void run_reader();
  void run_worker();

  std::shared_ptr<const Tokenizer> tokenizer_;
  TextCorpus corpus_;  // the reader thread's while it runs
  std::vector<std::string> files_;
  std::vector<uint64_t> sizes_;
  std::function<bool(uint64_t)> takes_;
  bool wrap_;
  std::size_t capacity_;
  std::size_t workers_;
  uint64_t bad_seen_ = 0;     // corpus_.bad_records() already reported
  bool pass_ended_ = false;   // no wrap: the end-of-pass item was returned
  std::exception_ptr error_;  // next() failed: it fails again

  std::mutex mutex_;
  std::condition_variable reader_cv_, worker_cv_, consumer_cv_;
  std::deque<Job> jobs_;          // waiting for a worker
  std::map<uint64_t, Job> done_;  // finished, by sequence number
  uint64_t next_sequence_ = 0;    // the reader's next number
  uint64_t next_out_ = 0;         // the number next() returns next
  bool stop_ = false, running_ = false;
  std::atomic<uint64_t> read_ns_{0}, tokenize_ns_{0}, wait_ns_{0};
  std::thread reader_;
  std::vector<std::thread> pool_;
};

}  // namespace smx
