// Circulant mixing (docs/design.md §1.4): Out = C(c_s) · X · C(c_h)ᵀ with C(c)[r,q] =
// c[(r - q) mod n], a 2-D circular convolution. Parameters c_s [N_max] (`sequence_kernel`) and
// c_h [D] (`hidden_kernel`).
#pragma once

#include "smx/model/mixing.h"

namespace smx::model {

class CirculantMixing : public Mixing {
 public:
  CirculantMixing(int64_t max_seq_len, int64_t d_model, bool use_fft);
  at::Tensor forward(const MixingInput& input) override;

  at::Tensor sequence_kernel;  // c_s [N_max]
  at::Tensor hidden_kernel;    // c_h [D]

 private:
  bool use_fft_;
};

// The explicit n×n circulant matrix of c restricted to its first `rows`×`rows` block: [rows, rows].
at::Tensor circulant_matrix(const at::Tensor& c, int64_t rows);

}  // namespace smx::model
