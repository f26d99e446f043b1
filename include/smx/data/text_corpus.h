// TextCorpus: streams documents out of corpus shards without loading a shard into memory.
//
// Shards are plain, gzip or zstd (compressed_stream.h), in one of two formats (corpus_options.h):
//  * text: UTF-8, one sentence or paragraph per line; documents are separated by one or more blank
//    (empty or whitespace-only) lines, and a document never spans two files. "\r\n" line ends and
//    a leading byte-order mark are accepted.
//  * JSON Lines (C4, The Pile, wikiextractor --json, ...): one JSON object per line, one document
//    per object, its text in the string field `text_field`. The text is split into lines at every
//    line break Python's str.splitlines() knows (\n, \r, \r\n, \v, \f, \x1c-\x1e, U+0085, U+2028,
//    U+2029): in C4 a line is a paragraph. Whitespace-only lines are dropped, as in text files.
//    A blank JSONL line is no document.
// Either way a Document's lines are the units that segment packing puts into an example
// (docs/design.md, "Documents as paragraphs").
//
// Errors (smx::Error, naming shard and line): a missing, unreadable or empty shard, NUL bytes in a
// plain shard (its first 64 KiB are checked up front), invalid UTF-8, a corrupt or truncated
// gzip/zstd stream, a line that is not a JSON object, a missing or non-string text field, a shard
// that vanished since the corpus was opened. With skip_bad_records, the bad line (text: the line;
// JSONL: the record) or, for a broken stream or vanished shard, the rest of that shard is counted
// in bad_records() and skipped.
//
// Held-out split: document d (its global index, counting every document of every file in order;
// a JSONL record counts even when it is skipped as bad) belongs to the eval split iff
// is_eval_document(d, split_seed, eval_fraction), i.e. iff the 53-bit hash
// mix64(mix64(d) ^ mix64(split_seed ^ C)) / 2^53 is below eval_fraction. It depends only on the
// document index and the seed, so the split is the same for every rank, epoch and resume, and train
// and eval are disjoint by construction; about eval_fraction of the documents are held out.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "smx/data/compressed_stream.h"
#include "smx/data/corpus_options.h"

namespace smx {

class ShardLineReader;

// Where the next read starts; what the resume state stores.
struct CorpusPosition {
  std::size_t file = 0;      // index into files(); == files().size() at the end of a pass
  uint64_t byte_offset = 0;  // where the next line starts in that file (decompressed bytes)
  uint64_t line = 0;         // lines of that file read so far (the next line is line + 1)
  uint64_t document = 0;     // global index of the next document
  RestartPoint restart;      // compressed shards: where decoding restarts to reach byte_offset
};

struct Document {
  uint64_t index = 0;              // global document index (see above)
  std::string file;                // the file it came from
  uint64_t first_line = 0;         // 1-based line number of its first line
  std::vector<std::string> lines;  // its non-blank lines, without line ends
};

bool is_eval_document(uint64_t document_index, uint64_t split_seed, double eval_fraction);

// Splits a document's text at line breaks as str.splitlines() does, dropping whitespace-only
// lines.
std::vector<std::string> split_text_lines(const std::string& text);

class TextCorpus {
 public:
  // Checks every file up front (exists, non-empty, compression, no NUL in the first 64 KiB of a
  // plain file). `files` is taken as it is: expand globs and @lists with expand_corpus_files().
  explicit TextCorpus(std::vector<std::string> files, CorpusOptions options = {});
  ~TextCorpus();
  TextCorpus(TextCorpus&&) noexcept;

  // The next document of this pass, or nullopt at the end of the last file.
  std::optional<Document> next();
  // Starts a new pass from the first file.
  void rewind() { seek(CorpusPosition{}); }
  // Continues from a position previously returned by position().
  void seek(const CorpusPosition& position);

  const CorpusPosition& position() const { return position_; }
  const std::vector<std::string>& files() const { return files_; }
  // Sizes in bytes, as checked up front (the resume state uses them to detect a changed corpus).
  const std::vector<uint64_t>& file_sizes() const { return sizes_; }
  const CorpusOptions& options() const { return options_; }
  // Records skipped so far under skip_bad_records (never reset), and why the last one was.
  uint64_t bad_records() const { return bad_records_; }
  const std::string& last_bad_record() const { return last_bad_record_; }

 private:
  // Reads one line of the current file into `line`; false at the end of the file (or when the
  // rest of the file was skipped as bad).
  bool read_line(std::string& line);
  // Checks a text line; false if it is bad and was skipped.
  bool check_line(std::string& line);
  void skip_bad(const std::string& why);
  std::optional<Document> next_text();
  std::optional<Document> next_jsonl();
  void end_file();

  std::vector<std::string> files_;
  std::vector<uint64_t> sizes_;
  std::vector<Compression> compression_;
  std::vector<CorpusFormat> formats_;
  CorpusOptions options_;
  CorpusPosition position_;
  std::unique_ptr<ShardLineReader> reader_;
  bool shard_done_ = false;  // the rest of the current shard was skipped as bad
  uint64_t bad_records_ = 0;
  std::string last_bad_record_;
};

}  // namespace smx
