// PretrainingGenerator: the synchronous pre-training pipeline, corpus -> batches, with exact
// resume. PretrainingStream (pretraining_data.h) runs one on a prefetch thread; use this directly
// when a thread is unwanted.
//
// Per document of this rank and split: tokenise line by line (lines that encode to nothing are
// dropped; done on options.corpus.workers threads by a TokenizingReader, in corpus order, so the
// stream does not depend on the thread count), pack and order the segments (segment_packing.h),
// push each example through the shuffle buffer; the examples it emits are masked (masking.h) as
// they are batched. One Rng, seeded from (seed, rank), makes every draw, in pipeline order, so a
// seed fixes the stream. Train: at the end of the corpus a new epoch starts (the shuffle buffer
// carries over). Eval: at the end the buffer is drained in slot order, then next_batch() returns a
// last, possibly smaller batch, then nullopt.
#pragma once

#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "smx/data/masking.h"
#include "smx/data/pretraining_options.h"
#include "smx/data/rng.h"
#include "smx/data/segment_packing.h"
#include "smx/data/shuffle_buffer.h"
#include "smx/data/text_corpus.h"
#include "smx/data/tokenizing_reader.h"

namespace smx {

class Tokenizer;

// Everything that determines the rest of the stream. Examples are shared and immutable, so a
// snapshot is cheap enough to take after every batch.
struct PretrainingState {
  using ExamplePtr = std::shared_ptr<const PackedExample>;
  CorpusPosition corpus;
  Rng::State rng{};
  uint64_t epoch = 0;
  uint64_t examples_in_epoch = 0;  // examples packed in this epoch so far
  bool exhausted = false;          // eval only: the pass is over and the buffer drained
  uint64_t bad_records = 0;        // corpus records skipped as bad so far (skip_bad_records)
  std::string last_bad_record;     // why the last one was (not saved in the resume state)
  std::vector<std::optional<ExamplePtr>> shuffle_slots;  // [shuffle_buffer]
  std::deque<ExamplePtr> ready;                          // left the buffer, not yet batched
};

class PretrainingGenerator {
 public:
  // `files` may hold globs and @lists (corpus_files.h).
  PretrainingGenerator(std::shared_ptr<const Tokenizer> tokenizer, std::vector<std::string> files,
                       PretrainingOptions options);

  // The next batch, or nullopt once an eval pass is over. Throws smx::Error if a whole training
  // epoch yields no example (every document held out, on another rank, or too short).
  std::optional<PretrainingBatch> next_batch();

  PretrainingState snapshot() const;
  // JSON (see pretraining_generator.cpp for the fields). Reads only immutable members, so it may
  // run on another thread than next_batch().
  std::string serialize(const PretrainingState& state) const;
  // Continues exactly where serialize()'s state was taken. Throws smx::Error if the state is
  // malformed or was taken with other files or generation options (batch_size, padding and prefetch
  // may differ).
  void restore(const std::string& state);
  // Goes back to a snapshot() of this generator.
  void restore(const PretrainingState& state);

  const PretrainingOptions& options() const { return options_; }
  // The reader's stage times; safe from any thread.
  ReaderBusy reader_busy() const { return reader_.busy(); }

 private:
  std::optional<PretrainingState::ExamplePtr> next_example();
  bool takes_document(uint64_t index) const;
  void add_document(const TokenizedDocument& doc);
  PretrainingBatch make_batch(const std::vector<MaskedExample>& examples) const;

  std::shared_ptr<const Tokenizer> tokenizer_;
  PretrainingOptions options_;
  Masker masker_;
  Rng rng_;
  ShuffleBuffer<PretrainingState::ExamplePtr> buffer_;
  std::deque<PretrainingState::ExamplePtr> ready_;
  uint64_t epoch_ = 0;
  uint64_t examples_in_epoch_ = 0;
  bool exhausted_ = false;
  CorpusPosition position_;  // after the last document taken from reader_
  uint64_t bad_records_ = 0;
  std::string last_bad_record_;
  TokenizingReader reader_;  // last: its threads stop before the members they read go
};

}  // namespace smx
