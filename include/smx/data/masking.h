// Masked-LM corruption of one packed example (docs/design.md §4.3).
#pragma once

#include <cstdint>
#include <vector>

#include "smx/data/rng.h"
#include "smx/data/segment_packing.h"

namespace smx {

struct MaskingIds {
  int32_t vocab_size = 0;
  int32_t pad = 0, cls = 0, sep = 0, mask = 0;
  int32_t bos = -1, eos = -1;  // -1 when the tokenizer has none
};

struct MaskedExample {
  std::vector<int32_t> input_ids;  // the packed tokens after masking, unpadded
  int32_t first_length = 0;
  int32_t nsp_label = 1;
  std::vector<int32_t> positions;  // sorted ascending, size <= max_predictions
  std::vector<int32_t> labels;     // original ids at those positions
};

class Masker {
 public:
  // Throws smx::Error if no id is left to draw random replacements from.
  Masker(const MaskingIds& ids, int64_t max_predictions, double masking_prob);

  // n = tokens incl. [CLS]/[SEP]; predictions = min(P, max(1, floor(masking_prob * n))), capped by
  // the candidates (ids not [CLS]/[SEP]/pad). They are drawn without replacement and sorted; each
  // is then [MASK] with probability 0.8, a random id (never [MASK]/[CLS]/[SEP]/bos/eos/pad) with
  // 0.1, kept with 0.1. Random draws, in order: the positions, then per position r and (if needed)
  // the id.
  MaskedExample operator()(const PackedExample& example, Rng& rng) const;

  int64_t max_predictions() const { return max_predictions_; }
  const std::vector<int32_t>& replacement_ids() const { return replacement_ids_; }

 private:
  MaskingIds ids_;
  int64_t max_predictions_;
  double masking_prob_;
  std::vector<int32_t> replacement_ids_;  // the vocabulary minus the excluded specials
};

}  // namespace smx
