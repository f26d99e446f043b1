// A tiny pre-training run for tests: the tiny Sparse Mixer sized for the tiny tokenizer, and the
// options of a 6-step run on the numbered corpus.
#pragma once

#include <string>
#include <vector>

#include "smx/config/model_config.h"
#include "smx/train/pretrainer.h"
#include "support/scratch_dir.h"

namespace smx::testing {

// tiny_config("linear", masked) with tiny_tokenizer()'s vocabulary and N = 32.
ModelConfig tiny_pretraining_config();

// 6 steps of batch 4 into DIR/RUN (lr 3e-3, 2 warm-up steps, seed 5, no logging, evaluation or
// checkpoints unless a test sets them), reading `data_files`; with none, DIR/corpus.txt, written
// from numbered_corpus(120) when missing.
train::PretrainOptions tiny_pretrain_options(const ScratchDir& dir, const std::string& run,
                                             std::vector<std::string> data_files = {});

// max |loss difference| per step between a straight run and the same steps run as `first`, then
// `second` resuming it; a test failure (and infinity) when the step counts differ.
double max_resume_loss_diff(const train::PretrainResult& straight,
                            const train::PretrainResult& first,
                            const train::PretrainResult& second);

}  // namespace smx::testing
