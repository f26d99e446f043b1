#include "smx/data/masking.h"

#include <algorithm>
#include <cmath>

#include "smx/core/error.h"

namespace smx {

Masker::Masker(const MaskingIds& ids, int64_t max_predictions, double masking_prob)
    : ids_(ids), max_predictions_(max_predictions), masking_prob_(masking_prob) {
  if (max_predictions < 1) fail("masking: max_predictions {} must be >= 1", max_predictions);
  const int32_t excluded[] = {ids.mask, ids.cls, ids.sep, ids.bos, ids.eos, ids.pad};
  for (int32_t id = 0; id < ids.vocab_size; ++id) {
    if (std::find(std::begin(excluded), std::end(excluded), id) == std::end(excluded)) {
      replacement_ids_.push_back(id);
    }
  }
  if (replacement_ids_.empty()) {
    fail(
        "masking: the vocabulary of {} ids has no id left for random replacement once "
        "[MASK]/[CLS]/[SEP]/bos/eos/pad are excluded; train a larger tokenizer",
        ids.vocab_size);
  }
}

MaskedExample Masker::operator()(const PackedExample& example, Rng& rng) const {
  MaskedExample out;
  out.input_ids = example.tokens;
  out.first_length = example.first_length;
  out.nsp_label = example.nsp_label;

  const auto n = static_cast<int64_t>(example.tokens.size());
  // The epsilon keeps floor(0.15 * 60) at 9 despite 0.15 not being exact in binary.
  const auto by_rate =
      static_cast<int64_t>(std::floor(masking_prob_ * static_cast<double>(n) + 1e-9));
  int64_t count = std::min(max_predictions_, std::max<int64_t>(1, by_rate));

  std::vector<int32_t> candidates;
  candidates.reserve(example.tokens.size());
  for (int32_t i = 0; i < static_cast<int32_t>(n); ++i) {
    const int32_t id = example.tokens[i];
    if (id != ids_.cls && id != ids_.sep && id != ids_.pad) candidates.push_back(i);
  }
  count = std::min<int64_t>(count, static_cast<int64_t>(candidates.size()));

  // Partial Fisher-Yates: the first `count` entries become a uniform sample without replacement.
  for (int64_t i = 0; i < count; ++i) {
    const auto j = i + static_cast<int64_t>(rng.uniform(candidates.size() - i));
    std::swap(candidates[i], candidates[j]);
  }
  out.positions.assign(candidates.begin(), candidates.begin() + count);
  std::sort(out.positions.begin(), out.positions.end());

  out.labels.reserve(out.positions.size());
  for (const int32_t pos : out.positions) {
    out.labels.push_back(example.tokens[pos]);
    const double r = rng.uniform01();
    if (r < 0.8) {
      out.input_ids[pos] = ids_.mask;
    } else if (r < 0.9) {
      out.input_ids[pos] = replacement_ids_[rng.uniform(replacement_ids_.size())];
    }  // else: keep the original token
  }
  return out;
}

}  // namespace smx
