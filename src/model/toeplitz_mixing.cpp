#include "smx/model/toeplitz_mixing.h"

#include <torch/torch.h>

#include "smx/core/torch_compat.h"
#include "smx/model/dense.h"

namespace smx::model {
namespace {

// First column of the 2n×2n circulant whose top-left n×n block is T(t):
// [t[n-1], ..., t[0], 0, t[2n-2], ..., t[n]].
at::Tensor embedding_circulant(const at::Tensor& t) {
  const int64_t n = (t.size(0) + 1) / 2;
  return torch::cat(
      {t.narrow(0, 0, n).flip(0), torch::zeros({1}, t.options()), t.narrow(0, n, n - 1).flip(0)});
}

}  // namespace

at::Tensor toeplitz_matrix(const at::Tensor& t, int64_t rows) {
  const int64_t n = (t.size(0) + 1) / 2;
  const at::Tensor r = torch::arange(rows, t.options().dtype(torch::kLong));
  const at::Tensor index = (n - 1) + r.unsqueeze(0) - r.unsqueeze(1);  // [rows, rows]
  return t.index_select(0, index.flatten()).view({rows, rows});
}

ToeplitzMixing::ToeplitzMixing(int64_t max_seq_len, int64_t d_model, bool use_fft)
    : use_fft_(use_fft) {
  sequence_kernel = register_parameter("sequence_kernel", normal_002({2 * max_seq_len - 1}));
  hidden_kernel = register_parameter("hidden_kernel", normal_002({2 * d_model - 1}));
}

at::Tensor ToeplitzMixing::forward(const MixingInput& input) {
  const at::Tensor& x = input.x;  // [B, N, D]
  const int64_t N = x.size(1), D = x.size(2);
  if (!use_fft_) {
    const at::Tensor x_h = at::matmul(x, toeplitz_matrix(hidden_kernel, D).t());
    return at::matmul(toeplitz_matrix(sequence_kernel, N), x_h);
  }
  // Embed both Toeplitz matrices in 2n circulants and zero-pad X to [2·N_max, 2·D].
  const int64_t N_max = (sequence_kernel.size(0) + 1) / 2;
  const std::vector<int64_t> size{2 * N_max, 2 * D}, dims{1, 2};
  const at::Tensor spectrum = torch::fft::fft(embedding_circulant(sequence_kernel)).unsqueeze(1) *
                              torch::fft::fft(embedding_circulant(hidden_kernel)).unsqueeze(0);
  const at::Tensor y =
      torch::fft::ifft2(torch::fft::fft2(x, size, dims) * spectrum, compat::nullopt, dims);
  return at::real(y).narrow(1, 0, N).narrow(2, 0, D).contiguous();
}

}  // namespace smx::model
