// One pre-training step for timing: forward with the MLM and NSP heads, the docs/design.md §3 loss
// (MLM mean + NSP mean + 0.01·Σaux + 1e-4·Σz, all in fp32), backward and an AdamW step
// (docs/design.md §5).
#pragma once

#include <memory>

#include <ATen/core/Tensor.h>

#include "smx/bench/synthetic_batch.h"
#include "smx/model/sparse_mixer.h"
#include "smx/train/adamw.h"

namespace smx::bench {

// Loss of one batch; logits are cast to fp32 before the softmax cross-entropies.
at::Tensor pretraining_loss(const model::SparseMixerOutput& out, const PretrainingBatch& batch,
                            const ModelConfig& config);

// The trainer's AdamW (train/adamw.h, docs/design.md §5): β = (0.9, 0.999), ε = 1e-6, weight decay
// 0.01 on every parameter.
std::unique_ptr<train::AdamW> make_adamw(model::SparseMixer& model);

// forward + loss + backward + optimizer step at learning rate `lr`; returns the loss value.
double pretraining_step(model::SparseMixer& model, train::AdamW& optimizer,
                        const PretrainingBatch& batch, double lr = 1e-4);

// Eval-mode forward without grad: encoder, pooler and the classification head (no MLM head).
at::Tensor inference_forward(model::SparseMixer& model, const PretrainingBatch& batch);

}  // namespace smx::bench
