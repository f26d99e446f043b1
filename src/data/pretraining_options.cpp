#include "smx/data/pretraining_options.h"

#include <cmath>

#include "smx/core/error.h"

namespace smx {

PaddingMode parse_padding_mode(std::string_view name) {
  if (name == "reference") return PaddingMode::reference;
  if (name == "masked") return PaddingMode::masked;
  fail("unknown padding mode '{}'; use reference or masked", name);
}

Split parse_split(std::string_view name) {
  if (name == "train") return Split::train;
  if (name == "eval") return Split::eval;
  fail("unknown data split '{}'; use train or eval", name);
}

std::string to_string(PaddingMode mode) {
  return mode == PaddingMode::reference ? "reference" : "masked";
}

std::string to_string(Split split) {
  return split == Split::train ? "train" : "eval";
}

int64_t default_max_predictions(int64_t max_seq_len) {
  return std::max<int64_t>(1, std::llround(80.0 * static_cast<double>(max_seq_len) / 512.0));
}

int64_t PretrainingOptions::resolved_max_predictions() const {
  return max_predictions > 0 ? max_predictions : default_max_predictions(max_seq_len);
}

void PretrainingOptions::validate() const {
  const char* where = "pre-training data options";
  if (max_seq_len < 5) {
    fail("{}: max_seq_len {} leaves no room for two segments plus [CLS] and two [SEP]; use >= 5",
         where, max_seq_len);
  }
  if (max_predictions < 0)
    fail("{}: max_predictions {} must be >= 0 (0 = default)", where, max_predictions);
  if (!(masking_prob > 0.0 && masking_prob <= 1.0)) {
    fail("{}: masking_prob {} must be in (0, 1]", where, masking_prob);
  }
  if (batch_size < 1) fail("{}: batch_size {} must be >= 1", where, batch_size);
  if (shuffle_buffer < 1) fail("{}: shuffle_buffer {} must be >= 1", where, shuffle_buffer);
  if (world_size < 1 || rank < 0 || rank >= world_size) {
    fail("{}: rank {} of world_size {} is invalid; need 0 <= rank < world_size", where, rank,
         world_size);
  }
  if (!(eval_fraction >= 0.0 && eval_fraction <= 1.0)) {
    fail("{}: eval_fraction {} must be in [0, 1]", where, eval_fraction);
  }
  if (split == Split::eval && eval_fraction <= 0.0) {
    fail("{}: the eval split is empty because eval_fraction is 0; set eval_fraction > 0", where);
  }
  if (split == Split::train && eval_fraction >= 1.0) {
    fail("{}: the train split is empty because eval_fraction is 1; lower it", where);
  }
  if (prefetch_batches < 1) fail("{}: prefetch_batches {} must be >= 1", where, prefetch_batches);
  corpus.validate();
}

}  // namespace smx
