// Every mixing sublayer against its explicit matrix definition (docs/design.md §1.4), dense and FFT
// paths, with FLOPs reported per op (ggml style).
#include <cmath>
#include <complex>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "smx/model/circulant_mixing.h"
#include "smx/model/fourier_mixing.h"
#include "smx/model/linear_mixing.h"
#include "smx/model/toeplitz_mixing.h"
#include "support/test_util.h"

namespace smx::model {
namespace {

using smx::testing::expect_close;

constexpr int64_t B = 2, N = 12, D = 10, N_MAX = 12;

at::Tensor input() {
  torch::manual_seed(7);
  return torch::randn({B, N, D}, torch::kDouble);
}

MixingInput mixing_input(const at::Tensor& x) {
  return {x, torch::ones({B, x.size(1)}, torch::kBool)};
}

// F_n[a, b] = exp(-2πi·ab/n) as a complex double matrix.
at::Tensor dft(int64_t n) {
  at::Tensor re = torch::empty({n, n}, torch::kDouble), im = torch::empty({n, n}, torch::kDouble);
  for (int64_t a = 0; a < n; ++a)
    for (int64_t b = 0; b < n; ++b) {
      const double phase = -2.0 * M_PI * static_cast<double>(a * b) / static_cast<double>(n);
      re[a][b] = std::cos(phase);
      im[a][b] = std::sin(phase);
    }
  return torch::complex(re, im);
}

void report_flops(const char* op, double flops) {
  std::printf("    %-20s %.3f MFLOP per [%ld, %ld, %ld] batch\n", op, flops / 1e6, B, N, D);
}

TEST(MixingTest, LinearEqualsWsXWh) {
  LinearMixing mix(N_MAX, D);
  mix.to(torch::kDouble);
  const at::Tensor x = input();
  const at::Tensor expected =
      torch::einsum("ni,bij,jk->bnk", {mix.input_kernel, x, mix.hidden_kernel});
  expect_close(mix.forward(mixing_input(x)), expected, 1e-12, "linear mixing");
  report_flops("linear", 2.0 * B * (N * N * D + N * D * D));
}

TEST(MixingTest, FourierAndHartleyEqualTheirDftDefinitions) {
  const at::Tensor x = input();
  const at::Tensor z = at::matmul(dft(N), at::matmul(x.to(torch::kComplexDouble), dft(D)));
  for (bool use_fft : {false, true}) {
    FourierMixing fourier(N_MAX, false, use_fft), hartley(N_MAX, true, use_fft);
    const std::string path = use_fft ? " (fft)" : " (dft matrices)";
    expect_close(fourier.forward(mixing_input(x)), at::real(z), 1e-9, "fourier = Re(F X F)" + path);
    expect_close(hartley.forward(mixing_input(x)), at::real(z) - at::imag(z), 1e-9,
                 "hartley = Re - Im" + path);
  }
  report_flops("fourier (dense)", 2.0 * B * (2 * N * N * D + 2 * N * D * D));
}

TEST(MixingTest, CirculantEqualsExplicitMatrices) {
  CirculantMixing mix(N_MAX, D, false);
  mix.to(torch::kDouble);
  // C(c)[r, q] = c[(r - q) mod n], built element by element.
  auto circulant = [](const at::Tensor& c) {
    const int64_t n = c.size(0);
    at::Tensor m = torch::empty({n, n}, torch::kDouble);
    for (int64_t r = 0; r < n; ++r)
      for (int64_t q = 0; q < n; ++q) m[r][q] = c[((r - q) % n + n) % n];
    return m;
  };
  const at::Tensor x = input();
  const at::Tensor expected =
      at::matmul(circulant(mix.sequence_kernel), at::matmul(x, circulant(mix.hidden_kernel).t()));
  expect_close(mix.forward(mixing_input(x)), expected, 1e-12, "circulant (matrices)");
  CirculantMixing fft(N_MAX, D, true);
  fft.to(torch::kDouble);
  fft.sequence_kernel.data().copy_(mix.sequence_kernel);
  fft.hidden_kernel.data().copy_(mix.hidden_kernel);
  expect_close(fft.forward(mixing_input(x)), expected, 1e-9, "circulant (fft)");
}

TEST(MixingTest, ToeplitzEqualsExplicitMatrices) {
  ToeplitzMixing mix(N_MAX, D, false);
  mix.to(torch::kDouble);
  // T(t)[r, q] = t[(n - 1) + (q - r)].
  auto toeplitz = [](const at::Tensor& t) {
    const int64_t n = (t.size(0) + 1) / 2;
    at::Tensor m = torch::empty({n, n}, torch::kDouble);
    for (int64_t r = 0; r < n; ++r)
      for (int64_t q = 0; q < n; ++q) m[r][q] = t[(n - 1) + (q - r)];
    return m;
  };
  const at::Tensor x = input();
  const at::Tensor expected =
      at::matmul(toeplitz(mix.sequence_kernel), at::matmul(x, toeplitz(mix.hidden_kernel).t()));
  expect_close(mix.forward(mixing_input(x)), expected, 1e-12, "toeplitz (matrices)");
  ToeplitzMixing fft(N_MAX, D, true);
  fft.to(torch::kDouble);
  fft.sequence_kernel.data().copy_(mix.sequence_kernel);
  fft.hidden_kernel.data().copy_(mix.hidden_kernel);
  expect_close(fft.forward(mixing_input(x)), expected, 1e-9, "toeplitz (fft)");
}

TEST(MixingTest, ShorterBatchesUseTheTopLeftBlockOfTheMaxLengthTransform) {
  // A batch of length n < N_max with zero rows past n gives the same first n rows as N_max.
  const int64_t n = 7;
  at::Tensor x = input();
  x.narrow(1, n, N - n).zero_();
  const at::Tensor short_x = x.narrow(1, 0, n).contiguous();
  LinearMixing linear(N_MAX, D);
  CirculantMixing circulant(N_MAX, D, false), circulant_fft(N_MAX, D, true);
  ToeplitzMixing toeplitz(N_MAX, D, false), toeplitz_fft(N_MAX, D, true);
  FourierMixing fourier(N_MAX, false, false), fourier_fft(N_MAX, false, true);
  FourierMixing hartley(N_MAX, true, false);
  std::vector<std::pair<std::string, Mixing*>> all = {{"linear", &linear},
                                                      {"circulant", &circulant},
                                                      {"circulant fft", &circulant_fft},
                                                      {"toeplitz", &toeplitz},
                                                      {"toeplitz fft", &toeplitz_fft},
                                                      {"fourier", &fourier},
                                                      {"fourier fft", &fourier_fft},
                                                      {"hartley", &hartley}};
  for (auto& [name, mix] : all) {
    mix->to(torch::kDouble);
    const at::Tensor full = mix->forward(mixing_input(x)).narrow(1, 0, n);
    expect_close(mix->forward(mixing_input(short_x)), full, 1e-9, name + " sliced to n = 7");
  }
}

}  // namespace
}  // namespace smx::model
