#include "smx/data/corpus_check.h"

#include "smx/data/corpus_files.h"
#include "smx/data/text_corpus.h"

namespace smx {
namespace {

constexpr uint64_t kWholeCorpusBytes = 64u << 20;

}  // namespace

CorpusCheck check_corpus(const std::vector<std::string>& entries, const CorpusOptions& options) {
  TextCorpus corpus(expand_corpus_files(entries), options);
  CorpusCheck check;
  check.files = corpus.files().size();
  uint64_t bytes = 0;
  bool compressed = false;
  for (std::size_t i = 0; i < corpus.files().size(); ++i) {
    bytes += corpus.file_sizes()[i];
    compressed |= detect_compression(corpus.files()[i]) != Compression::none;
  }
  if (!compressed && bytes <= kWholeCorpusBytes) {
    while (corpus.next()) ++check.documents;
    check.complete = true;
    return check;
  }
  for (std::size_t i = 0; i < corpus.files().size(); ++i) {
    CorpusPosition start;
    start.file = i;
    corpus.seek(start);
    if (corpus.next()) ++check.documents;
  }
  if (check.documents < 2) {  // e.g. one big shard: does it hold two documents?
    corpus.rewind();
    check.documents = 0;
    while (check.documents < 2 && corpus.next()) ++check.documents;
  }
  return check;
}

}  // namespace smx
