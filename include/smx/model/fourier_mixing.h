// Parameter-free spectral mixing (docs/design.md §1.4) with Z = F_N · X · F_D, F_n[a,b] =
// exp(-2πi·ab/n): Fourier (FNet) returns Re(Z), Hartley returns Re(Z) - Im(Z). The dense path
// multiplies by cos/sin DFT matrices (the reference default); `use_fft` computes the same through
// 2-D FFTs.
#pragma once

#include "smx/model/mixing.h"

namespace smx::model {

class FourierMixing : public Mixing {
 public:
  FourierMixing(int64_t max_seq_len, bool hartley, bool use_fft);
  at::Tensor forward(const MixingInput& input) override;

 private:
  at::Tensor forward_dense(const at::Tensor& x);
  at::Tensor forward_fft(const at::Tensor& x);

  int64_t max_seq_len_;
  bool hartley_, use_fft_;
  // Cached DFT matrices (not parameters): [cos | sin] of the hidden axis [D, 2D] and, for the
  // sequence axis, [cos, -sin] (Fourier) or [cos, sin] (Hartley) of size [N, 2N].
  at::Tensor hidden_dft_, sequence_dft_;
};

}  // namespace smx::model
