#include "smx/model/circulant_mixing.h"

#include <torch/torch.h>

#include "smx/core/torch_compat.h"
#include "smx/model/dense.h"

namespace smx::model {

at::Tensor circulant_matrix(const at::Tensor& c, int64_t rows) {
  const int64_t n = c.size(0);
  const at::Tensor r = torch::arange(rows, c.options().dtype(torch::kLong));
  const at::Tensor index = (r.unsqueeze(1) - r.unsqueeze(0)).remainder(n);  // [rows, rows]
  return c.index_select(0, index.flatten()).view({rows, rows});
}

CirculantMixing::CirculantMixing(int64_t max_seq_len, int64_t d_model, bool use_fft)
    : use_fft_(use_fft) {
  sequence_kernel = register_parameter("sequence_kernel", normal_002({max_seq_len}));
  hidden_kernel = register_parameter("hidden_kernel", normal_002({d_model}));
}

at::Tensor CirculantMixing::forward(const MixingInput& input) {
  const at::Tensor& x = input.x;  // [B, N, D]
  const int64_t N = x.size(1), D = x.size(2), N_max = sequence_kernel.size(0);
  if (!use_fft_) {
    const at::Tensor x_h = at::matmul(x, circulant_matrix(hidden_kernel, D).t());
    return at::matmul(circulant_matrix(sequence_kernel, N), x_h);
  }
  // Circular convolution theorem over the zero-padded [N_max, D] plane; keep the first N rows.
  const std::vector<int64_t> size{N_max, D}, dims{1, 2};
  const at::Tensor spectrum = torch::fft::fft(sequence_kernel).unsqueeze(1) *
                              torch::fft::fft(hidden_kernel).unsqueeze(0);  // [N_max, D]
  const at::Tensor y =
      torch::fft::ifft2(torch::fft::fft2(x, size, dims) * spectrum, compat::nullopt, dims);
  return at::real(y).narrow(1, 0, N).contiguous();
}

}  // namespace smx::model
