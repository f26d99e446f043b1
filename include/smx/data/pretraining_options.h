// Options and batch layout of the BERT-style pre-training stream (MLM + sentence-order NSP,
// docs/design.md §4.2-4.3).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "smx/data/corpus_options.h"

namespace smx {

enum class PaddingMode {
  reference,  // every example padded to max_seq_len (docs/design.md §7.1 `reference`)
  masked,     // a batch padded to its longest example rounded up to a multiple of 8 (at most
              // max_seq_len)
};

enum class Split { train, eval };

PaddingMode parse_padding_mode(std::string_view name);  // "reference" | "masked"
Split parse_split(std::string_view name);               // "train" | "eval"
std::string to_string(PaddingMode mode);
std::string to_string(Split split);

// max(1, round(80 * max_seq_len / 512)): the reference's 80 predictions at 512 tokens, scaled.
int64_t default_max_predictions(int64_t max_seq_len);

struct PretrainingOptions {
  int64_t max_seq_len = 512;    // L: CLS + both segments + 2 SEPs
  int64_t max_predictions = 0;  // P; 0 = default_max_predictions(max_seq_len)
  double masking_prob = 0.15;   // predictions = min(P, max(1, floor(masking_prob * n)))
  uint64_t seed = 0;            // packing, NSP order, shuffling and masking
  int64_t batch_size = 32;
  PaddingMode padding = PaddingMode::reference;
  int64_t shuffle_buffer = 1024;  // slots of the random-replacement shuffle buffer
  // Sharding by document: rank r reads the documents whose global index d has d % world_size == r.
  int64_t rank = 0;
  int64_t world_size = 1;
  Split split = Split::train;  // train: epochs forever; eval: one pass, then nullopt
  double eval_fraction = 0.0;  // share of documents held out for eval (see text_corpus.h)
  uint64_t split_seed = 0;     // seeds the held-out hash; keep it equal for train and eval streams
  int64_t prefetch_batches = 4;  // bound of the prefetch queue
  // Format, text field, bad-record policy and tokenizer threads (corpus_options.h). Only the format
  // and text field shape the stream; workers and skip_bad_records may change on resume.
  CorpusOptions corpus;

  // P after applying the default.
  int64_t resolved_max_predictions() const;
  // Throws smx::Error naming the first bad option.
  void validate() const;
};

// B examples of padded length N; P = max_predictions. Row-major, ready to become tensors.
struct PretrainingBatch {
  int64_t batch_size = 0, seq_len = 0, max_predictions = 0;
  std::vector<int64_t> input_ids;            // [B, N] pad_id-padded, masking applied
  std::vector<int64_t> type_ids;             // [B, N] 0 CLS/first segment/its SEP, 1 second, 0 pad
  std::vector<int64_t> masked_lm_positions;  // [B, P] sorted ascending, 0-padded
  std::vector<int64_t> masked_lm_ids;        // [B, P] original ids, 0-padded
  std::vector<float> masked_lm_weights;      // [B, P] 1 for real predictions, 0 padding
  std::vector<int64_t> nsp_labels;           // [B] 1 = segments in order, 0 = swapped
  int64_t real_tokens = 0;                   // sum of the B unpadded lengths
};

}  // namespace smx
