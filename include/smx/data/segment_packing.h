// Segment packing and sentence-order NSP (docs/design.md §4.2 steps 2-6) for one tokenised
// document.
#pragma once

#include <cstdint>
#include <vector>

#include "smx/data/rng.h"

namespace smx {

struct PackedExample {
  std::vector<int32_t> tokens;  // [CLS] first [SEP] second [SEP], unpadded
  int32_t first_length = 0;     // tokens of type 0: [CLS], the first segment and its [SEP]
  int32_t nsp_label = 1;        // 1 = segments in document order, 0 = swapped
};

// Scans the lines with j = 0: if lines j and j+1 together exceed max_seq_len - 3 tokens, j += 1 (an
// overlong line is skipped, never truncated); otherwise takes lines j..k greedily while their total
// stays
// <= max_seq_len - 3, picks pivot ~ U{1..k-j}, A = lines before it, B = the rest, and with
// probability 1/2 emits [CLS] A [SEP] B [SEP] (label 1), else [CLS] B [SEP] A [SEP] (label 0); then
// j = k + 1. Random draws, in order per example: the pivot, then the order.
std::vector<PackedExample> pack_document(const std::vector<std::vector<int32_t>>& lines,
                                         int64_t max_seq_len, int32_t cls_id, int32_t sep_id,
                                         Rng& rng);

}  // namespace smx
