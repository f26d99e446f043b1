// TextCorpus: streams documents out of plain-text files without loading a file into memory.
//
// Format: UTF-8 text, one sentence or paragraph per line; documents are separated by one or more
// blank (empty or whitespace-only) lines, and a document never spans two files. "\r\n" line ends
// and a leading byte-order mark are accepted.
//
// Errors (smx::Error, naming the file): missing or unreadable file, empty file, NUL bytes (binary
// content; the first 64 KiB of every file are checked up front, the rest as it is read) and invalid
// UTF-8 (named with its line number, found as the line is read).
//
// Held-out split: document d (its global index, counting every document of every file in order)
// belongs to the eval split iff is_eval_document(d, split_seed, eval_fraction), i.e. iff the 53-bit
// hash mix64(mix64(d) ^ mix64(split_seed ^ C)) / 2^53 is below eval_fraction. It depends only on
// the document index and the seed, so the split is the same for every rank, epoch and resume, and
// train and eval are disjoint by construction; about eval_fraction of the documents are held out.
#pragma once

#include <cstdint>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

namespace smx {

// Where the next read starts; what the resume state stores.
struct CorpusPosition {
  std::size_t file = 0;      // index into files(); == files().size() at the end of a pass
  uint64_t byte_offset = 0;  // where the next line starts in that file
  uint64_t line = 0;         // lines of that file read so far (the next line is line + 1)
  uint64_t document = 0;     // global index of the next document
};

struct Document {
  uint64_t index = 0;              // global document index (see above)
  std::string file;                // the file it came from
  uint64_t first_line = 0;         // 1-based line number of its first line
  std::vector<std::string> lines;  // its non-blank lines, without line ends
};

bool is_eval_document(uint64_t document_index, uint64_t split_seed, double eval_fraction);

class TextCorpus {
 public:
  // Checks every file up front (exists, non-empty, no NUL in the first 64 KiB).
  explicit TextCorpus(std::vector<std::string> files);

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

 private:
  // Reads one line of the current file into `line`; false at the end of the file.
  bool read_line(std::string& line);
  void open_current();

  std::vector<std::string> files_;
  std::vector<uint64_t> sizes_;
  CorpusPosition position_;
  std::ifstream in_;
  bool open_ = false;
};

}  // namespace smx
