#include "smx/bench/synthetic_batch.h"

#include <algorithm>

#include <torch/torch.h>

#include "smx/accounting/accounting.h"
#include "smx/core/error.h"

namespace smx::bench {

Batch make_synthetic_batch(const ModelConfig& config, int64_t batch, int64_t seq_len, uint64_t seed,
                           int64_t real_length) {
  const int64_t B = batch, N = seq_len, L = real_length > 0 ? real_length : seq_len;
  if (B < 1 || N < 2 || L > N)
    fail(
        "synthetic batch: need batch >= 1, seq_len >= 2 and real length <= seq_len (got {}, {}, "
        "{})",
        B, N, L);
  at::Generator gen = at::detail::createCPUGenerator(seed);
  const auto i64 = torch::TensorOptions().dtype(torch::kLong);
  Batch b;
  // Ids above the special pieces, never pad_id: every real position is a real token.
  const int64_t low = std::min<int64_t>(5, config.vocab_size - 1);
  b.input_ids = at::randint(low, config.vocab_size, {B, N}, gen, i64);
  b.input_ids.masked_fill_(b.input_ids.eq(config.pad_id), low);
  b.type_ids = torch::zeros({B, N}, i64);
  b.type_ids.narrow(1, L / 2, L - L / 2).fill_(1);
  if (L < N) b.input_ids.narrow(1, L, N - L).fill_(config.pad_id);

  const int64_t P = std::min(accounting::max_predictions_for(L), L - 1);
  // P distinct positions in [1, L): the first P of a random permutation, sorted.
  b.masked_lm_positions = std::get<0>(
      (at::rand({B, L - 1}, gen).argsort(/*dim=*/1, /*descending=*/false).narrow(1, 0, P) + 1)
          .sort(1));
  b.masked_lm_ids = at::randint(low, config.vocab_size, {B, P}, gen, i64);
  b.masked_lm_weights = torch::ones({B, P});
  b.nsp_labels = at::randint(0, 2, {B}, gen, i64);
  b.real_tokens = B * L;
  return b;
}

}  // namespace smx::bench
