// The corpus check `smx pretrain` runs before its first step, so that a bad path or a damaged
// shard fails at once rather than hours into a run.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "smx/data/corpus_options.h"

namespace smx {

struct CorpusCheck {
  uint64_t files = 0;      // after expanding globs and @lists
  uint64_t documents = 0;  // documents read
  bool complete = false;   // true: every document was read (documents is the corpus's count)
};

// Expands `entries` (corpus_files.h) and opens every file (existence, size, compression, NUL bytes
// of plain files). A small corpus (uncompressed, at most 64 MiB in all) is then read whole, so any
// bad line fails here; a larger one has the first document of each file read. Errors name the
// file and line, as reading would.
CorpusCheck check_corpus(const std::vector<std::string>& entries, const CorpusOptions& options);

}  // namespace smx
