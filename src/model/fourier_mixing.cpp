#include "smx/model/fourier_mixing.h"

#include <cmath>

#include <torch/torch.h>

namespace smx::model {
namespace {

// cos and sin of 2π·(a·b mod n)/n for a < rows, b < cols; the mod keeps fp64 phases exact.
std::pair<at::Tensor, at::Tensor> dft_parts(int64_t rows, int64_t cols, int64_t n,
                                            const at::TensorOptions& options) {
  const auto i64 = torch::TensorOptions().dtype(torch::kLong);
  const at::Tensor ab =
      torch::outer(torch::arange(rows, i64), torch::arange(cols, i64)).remainder(n);
  const at::Tensor phase = ab.to(torch::kDouble) * (2.0 * M_PI / static_cast<double>(n));
  return {phase.cos().to(options), phase.sin().to(options)};
}

}  // namespace

FourierMixing::FourierMixing(int64_t max_seq_len, bool hartley, bool use_fft)
    : max_seq_len_(max_seq_len), hartley_(hartley), use_fft_(use_fft) {}

at::Tensor FourierMixing::forward(const MixingInput& input) {
  return use_fft_ ? forward_fft(input.x) : forward_dense(input.x);
}

at::Tensor FourierMixing::forward_dense(const at::Tensor& x) {
  const int64_t N = x.size(1), D = x.size(2);
  const auto options = x.options();
  auto stale = [&](const at::Tensor& t, int64_t rows) {
    return !t.defined() || t.size(0) != rows || t.dtype() != x.dtype() || t.device() != x.device();
  };
  if (stale(hidden_dft_, D)) {
    auto [c, s] = dft_parts(D, D, D, options);
    hidden_dft_ = torch::cat({c, s}, 1);  // [D, 2D]
  }
  if (stale(sequence_dft_, N)) {
    // The N_max transform restricted to the first N rows and columns (see mixing.h).
    auto [c, s] = dft_parts(N, N, max_seq_len_, options);
    sequence_dft_ = torch::cat({c, hartley_ ? s : -s}, 1);  // [N, 2N]
  }
  // With F = C - iS: X·F_D = XC - i·XS, then
  //   Re(Z)        = C_N·XC - S_N·XS
  //   Re(Z)-Im(Z)  = C_N·(XC + XS) + S_N·(XC - XS)
  const at::Tensor xcs = at::matmul(x, hidden_dft_);  // [B, N, 2D] = [XC | XS]
  const at::Tensor xc = xcs.narrow(2, 0, D), xs = xcs.narrow(2, D, D);
  const at::Tensor stacked = hartley_ ? torch::cat({xc + xs, xc - xs}, 1)  // [B, 2N, D]
                                      : torch::cat({xc, xs}, 1);
  return at::matmul(sequence_dft_, stacked);
}

at::Tensor FourierMixing::forward_fft(const at::Tensor& x) {
  const int64_t N = x.size(1);
  // Zero-padding the sequence to N_max gives the N_max transform; keep the first N rows.
  const at::Tensor z =
      torch::fft::fft2(x, std::vector<int64_t>{max_seq_len_, x.size(2)}, std::vector<int64_t>{1, 2})
          .narrow(1, 0, N);
  const at::Tensor re = at::real(z);
  return hartley_ ? re - at::imag(z) : re.contiguous();
}

}  // namespace smx::model
