// An SST-2-layout toy task that a tiny model learns in a few epochs: label 1 sentences contain
// "cat", label 0 ones "dog" (fine-tuning tests, single- and multi-process).
#pragma once

#include <string>

#include "support/scratch_dir.h"

namespace smx::testing {

// Writes DIR/toy/SST-2/{train,dev,test}.tsv and returns DIR/toy (a benchmark root).
std::string toy_task(const ScratchDir& dir, int train_rows = 192, int dev_rows = 64);

}  // namespace smx::testing
