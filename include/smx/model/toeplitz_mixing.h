// Toeplitz mixing (docs/design.md §1.4): Out = T(t_s) · X · T(t_h)ᵀ with T(t)[r,q] =
// t[(n-1) + (q - r)]. Parameters t_s [2·N_max - 1] (`sequence_kernel`), t_h [2·D - 1]
// (`hidden_kernel`).
#pragma once

#include "smx/model/mixing.h"

namespace smx::model {

class ToeplitzMixing : public Mixing {
 public:
  ToeplitzMixing(int64_t max_seq_len, int64_t d_model, bool use_fft);
  at::Tensor forward(const MixingInput& input) override;

  at::Tensor sequence_kernel;  // t_s [2·N_max - 1]
  at::Tensor hidden_kernel;    // t_h [2·D - 1]

 private:
  bool use_fft_;
};

// The explicit Toeplitz matrix of t (n = (len + 1) / 2) restricted to its first rows×rows block.
at::Tensor toeplitz_matrix(const at::Tensor& t, int64_t rows);

}  // namespace smx::model
