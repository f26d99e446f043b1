#include "smx/train/pretraining_loss.h"

#include <torch/torch.h>

#include "smx/ops/cross_entropy.h"

namespace smx::train {

Batch to_tensors(const PretrainingBatch& b, const at::Device& device, int64_t pad_id) {
  const int64_t B = b.batch_size, N = b.seq_len, P = b.max_predictions;
  auto longs = [&](const std::vector<int64_t>& v, std::vector<int64_t> shape) {
    return torch::from_blob(const_cast<int64_t*>(v.data()), shape, torch::kLong)
        .to(device, false, true);
  };
  Batch t;
  t.input_ids = longs(b.input_ids, {B, N});
  t.type_ids = longs(b.type_ids, {B, N});
  t.masked_lm_positions = longs(b.masked_lm_positions, {B, P});
  t.masked_lm_ids = longs(b.masked_lm_ids, {B, P});
  t.masked_lm_weights =
      torch::from_blob(const_cast<float*>(b.masked_lm_weights.data()), {B, P}, torch::kFloat)
          .to(device, false, true);
  t.nsp_labels = longs(b.nsp_labels, {B});
  for (size_t i = 0; i < b.input_ids.size(); ++i) t.real_tokens += b.input_ids[i] != pad_id ? 1 : 0;
  return t;
}

PretrainingLoss pretraining_loss(const model::SparseMixerOutput& out, const Batch& batch,
                                 double aux_factor, double z_factor) {
  PretrainingLoss r;
  const int64_t V = out.mlm_logits.size(-1);
  // MLM: Σ w·CE / Σ w over every masked slot of the batch, straight from the logits' dtype with
  // fp32 math (ops/cross_entropy.h: no fp32 copy of [B·P, V]).
  const at::Tensor labels = batch.masked_lm_ids.reshape({-1});
  const at::Tensor weights = batch.masked_lm_weights.reshape({-1});
  const ops::CrossEntropy mlm_ce = ops::cross_entropy(out.mlm_logits.reshape({-1, V}), labels);
  const at::Tensor& ce = mlm_ce.loss;
  const at::Tensor weight_sum = weights.sum().clamp_min(1e-5);
  const at::Tensor mlm = (ce * weights).sum() / weight_sum;
  const at::Tensor nsp_logits = out.classification_logits.to(torch::kFloat);
  const at::Tensor nsp = at::cross_entropy_loss(nsp_logits, batch.nsp_labels);
  const at::Tensor aux = out.encoder.aux_loss.sum(), z = out.encoder.z_loss.sum();
  r.mlm_term = mlm;
  r.z_term = z * z_factor;
  r.total = mlm + nsp + aux * aux_factor + z * z_factor;

  torch::NoGradGuard no_grad;
  r.mlm = mlm.item<double>();
  r.nsp = nsp.item<double>();
  r.aux = aux.item<double>();
  r.z = z.item<double>();
  r.mlm_correct = (mlm_ce.top1.to(torch::kFloat) * weights).sum().item<double>();
  r.mlm_count = weights.sum().item<double>();
  r.nsp_correct = nsp_logits.argmax(-1).eq(batch.nsp_labels).sum().item<double>();
  r.nsp_count = static_cast<double>(batch.nsp_labels.size(0));
  return r;
}

}  // namespace smx::train
