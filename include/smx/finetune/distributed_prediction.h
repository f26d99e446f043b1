// Eval-mode prediction shared by the ranks of a multi-process job (dev evaluation while
// fine-tuning). The batches are predict()'s own (same rows, same padding, so the same outputs as
// one process); batch i runs on rank i % W, and the [n, num_outputs] outputs, zero outside each
// rank's rows, are summed over the ranks, so every rank returns every example's outputs and
// computes the same metrics (and picks the same best sweep point).
#pragma once

#include <cstdint>
#include <vector>

#include <ATen/core/Tensor.h>

#include "smx/dist/process_group.h"
#include "smx/finetune/task_data.h"
#include "smx/model/sparse_mixer.h"

namespace smx::finetune {

// predict() split across `group` (null: predict() itself). Collective: every rank calls it with the
// same data. With `lockstep` (expert parallel, where every forward is an all-to-all) every rank
// runs ceil(batches / W) forwards: a rank with no batch left in the last round reruns one and
// discards it.
std::vector<std::vector<float>> predict_across_ranks(model::SparseMixer& model,
                                                     const EncodedExamples& data, int64_t batch,
                                                     bool bf16, const at::Device& device,
                                                     dist::ProcessGroup* group, bool lockstep);

}  // namespace smx::finetune
