// Linear mixing (docs/design.md §1.4, the Sparse Mixer default): Out = W_s · X · W_h with learned
// W_s [N_max, N_max] (`input_kernel`) and W_h [D, D] (`hidden_kernel`), no bias.
#pragma once

#include "smx/model/mixing.h"

namespace smx::model {

class LinearMixing : public Mixing {
 public:
  LinearMixing(int64_t max_seq_len, int64_t d_model);
  at::Tensor forward(const MixingInput& input) override;

  at::Tensor input_kernel;   // W_s [N_max, N_max]
  at::Tensor hidden_kernel;  // W_h [D, D]
};

}  // namespace smx::model
