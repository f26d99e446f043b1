// The pre-training loss and its counts against plain formulas: the weighted mean cross-entropy
// over masked slots, NSP cross-entropy, and the MLM / NSP accuracy counts against argmax.
#include <cmath>
#include <cstdio>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "smx/train/pretraining_loss.h"

namespace smx::train {
namespace {

TEST(PretrainingLossTest, LossAndCountsMatchPlainFormulas) {
  torch::manual_seed(11);
  const int64_t B = 3, P = 5, V = 40;
  model::SparseMixerOutput out;
  out.mlm_logits = torch::randn({B, P, V}).to(at::kBFloat16);  // bf16, as under autocast
  out.classification_logits = torch::randn({B, 2});
  out.encoder.aux_loss = torch::zeros({1});
  out.encoder.z_loss = torch::full({1}, 0.5);
  Batch batch;
  batch.masked_lm_ids = torch::randint(0, V, {B, P});
  // Make some slots right: their label is the row's argmax.
  const at::Tensor best = out.mlm_logits.to(at::kFloat).argmax(-1);
  batch.masked_lm_ids.index_put_({0}, best[0]);
  batch.masked_lm_ids.index_put_({2, 1}, best[2][1]);
  batch.masked_lm_weights = torch::ones({B, P});
  batch.masked_lm_weights.index_put_({1, 3}, 0.0);  // a padded slot
  batch.masked_lm_weights.index_put_({0, 4}, 0.0);
  batch.nsp_labels = torch::tensor({0, 1, 1});

  const PretrainingLoss r = pretraining_loss(out, batch, 0.0, 0.1);

  const at::Tensor logits = out.mlm_logits.to(at::kDouble).reshape({-1, V});
  const at::Tensor labels = batch.masked_lm_ids.reshape({-1});
  const at::Tensor w = batch.masked_lm_weights.reshape({-1}).to(at::kDouble);
  const at::Tensor ce = -logits.log_softmax(-1).gather(1, labels.unsqueeze(1)).squeeze(1);
  const double mlm = ((ce * w).sum() / w.sum()).item<double>();
  const double correct = (logits.argmax(-1).eq(labels).to(at::kDouble) * w).sum().item<double>();
  const double nsp_correct =
      out.classification_logits.argmax(-1).eq(batch.nsp_labels).sum().item<double>();
  std::printf("    mlm %.6f vs %.6f, correct %.0f of %.0f (argmax: %.0f)\n", r.mlm, mlm,
              r.mlm_correct, r.mlm_count, correct);
  EXPECT_NEAR(r.mlm, mlm, 1e-5);
  EXPECT_EQ(r.mlm_correct, correct);
  EXPECT_GE(r.mlm_correct, 5.0);  // row 0 has 4 weighted right slots, plus [2, 1]
  EXPECT_EQ(r.mlm_count, w.sum().item<double>());
  EXPECT_EQ(r.nsp_correct, nsp_correct);
  EXPECT_EQ(r.nsp_count, 3.0);
  EXPECT_NEAR(r.z, 0.5, 1e-7);
  EXPECT_NEAR(r.total.item<double>(), r.mlm + r.nsp + 0.05, 1e-5);
}

}  // namespace
}  // namespace smx::train
