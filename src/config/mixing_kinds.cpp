#include "smx/config/mixing_kinds.h"

#include <cmath>

#include "smx/config/model_config.h"

namespace smx {
namespace {

// FLOPs of a complex 2-D FFT pair (forward + inverse) on an a×b real plane, 5·n·log2(n) each.
double fft_flops(double a, double b) {
  return 2 * 5.0 * a * b * std::log2(a * b);
}

// The dense-matrix path of the sequence/hidden transforms: one N×N and one D×D product.
double two_products(const ModelConfig& c, double N) {
  const double D = static_cast<double>(c.d_model);
  return 2.0 * N * D * D + 2.0 * N * N * D;
}

}  // namespace

const std::vector<MixingKindInfo>& mixing_kinds() {
  using C = const ModelConfig&;
  static const std::vector<MixingKindInfo> table = {
      {"bert", "attention", false, [](C c) { return 4 * (c.d_model * c.d_model + c.d_model); },
       [](C c, double N) {
         const double D = static_cast<double>(c.d_model);
         return 8.0 * N * D * D + 4.0 * N * N * D;
       }},
      {"linear", "linear", false,
       [](C c) { return c.max_seq_len * c.max_seq_len + c.d_model * c.d_model; }, two_products},
      {"f_net", "fourier", true, [](C) { return int64_t{0}; },
       [](C c, double N) {
         return c.use_fft ? fft_flops(N, static_cast<double>(c.d_model)) / 2
                          : 2 * two_products(c, N);
       }},
      {"h_net", "hartley", true, [](C) { return int64_t{0}; },
       [](C c, double N) {
         return c.use_fft ? fft_flops(N, static_cast<double>(c.d_model)) / 2
                          : 2 * two_products(c, N);
       }},
      {"c_net", "circulant", true, [](C c) { return c.max_seq_len + c.d_model; },
       [](C c, double N) {
         return c.use_fft ? fft_flops(N, static_cast<double>(c.d_model)) : two_products(c, N);
       }},
      {"t_net", "toeplitz", true, [](C c) { return (2 * c.max_seq_len - 1) + (2 * c.d_model - 1); },
       [](C c, double N) {
         return c.use_fft ? fft_flops(2 * N, 2.0 * static_cast<double>(c.d_model))
                          : two_products(c, N);
       }},
  };
  return table;
}

const MixingKindInfo& attention_mixing() {
  return mixing_kinds().front();
}

const MixingKindInfo* find_mixing_kind(const std::string& arch) {
  for (const MixingKindInfo& kind : mixing_kinds())
    if (kind.arch == arch) return &kind;
  return nullptr;
}

std::string mixing_arch_names() {
  std::string names;
  for (const MixingKindInfo& kind : mixing_kinds())
    names += (names.empty() ? "" : ", ") + kind.arch;
  return names;
}

}  // namespace smx
