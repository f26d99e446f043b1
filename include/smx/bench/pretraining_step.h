// One pre-training step for timing, exactly the trainer's: train::TrainingStep (the step
// `smx pretrain` and `smx finetune` run) over one micro-batch, with forward through the MLM and NSP
// heads and the trainer's loss (train::pretraining_loss, docs/design.md §3.4), backward and an
// AdamW step (docs/design.md §5).
#pragma once

#include <memory>

#include <ATen/core/Tensor.h>

#include "smx/model/sparse_mixer.h"
#include "smx/train/adamw.h"
#include "smx/train/pretraining_loss.h"

namespace smx::bench {

// The trainer's AdamW (train/adamw.h, docs/design.md §5): β = (0.9, 0.999), ε = 1e-6, weight decay
// 0.01 on every parameter.
std::unique_ptr<train::AdamW> make_adamw(model::SparseMixer& model);

// train::TrainingStep::run at learning rate `lr` in one process; returns the loss value.
double pretraining_step(model::SparseMixer& model, train::AdamW& optimizer, const Batch& batch,
                        double lr = 1e-4);

// Eval-mode forward without grad: encoder, pooler and the classification head (no MLM head).
at::Tensor inference_forward(model::SparseMixer& model, const Batch& batch);

}  // namespace smx::bench
