#include "smx/model/dense.h"

#include <cmath>

#include <torch/torch.h>

#include "smx/model/compute_weights.h"
#include "smx/ops/add_layer_norm.h"
#include "smx/ops/cpu_matmul.h"

namespace smx::model {
namespace {
thread_local bool skip_init = false;  // set by SkipParameterInit on this thread
}  // namespace

SkipParameterInit::SkipParameterInit() : previous_(skip_init) {
  skip_init = true;
}

SkipParameterInit::~SkipParameterInit() {
  skip_init = previous_;
}

bool parameter_init_skipped() {
  return skip_init;
}

at::Tensor normal_002(at::IntArrayRef shape) {
  if (skip_init) return torch::empty(shape);  // fp32, contents undefined until loaded
  return torch::randn(shape) * 0.02;
}

at::Tensor lecun_normal(int64_t fan_in, at::IntArrayRef shape) {
  // jax.nn.initializers.variance_scaling(1, "fan_in", "truncated_normal"): the truncated standard
  // normal has std 0.87962566103423978, divided out so the result has variance 1 / fan_in.
  if (skip_init) return torch::empty(shape);  // fp32, as below
  const double stddev = std::sqrt(1.0 / static_cast<double>(fan_in)) / 0.87962566103423978;
  // Inverse-CDF sampling of the standard normal truncated to [-2, 2]: x = √2·erfinv(2u - 1) with
  // u uniform on [Φ(-2), Φ(2)] (LibTorch 1.13's C++ API has no trunc_normal_).
  const double lo = 0.5 * std::erfc(2.0 / std::sqrt(2.0)), hi = 1.0 - lo;
  at::Tensor u = torch::empty(shape, torch::kDouble).uniform_(lo, hi);
  return (at::erfinv(u * 2.0 - 1.0) * (std::sqrt(2.0) * stddev)).to(torch::kFloat);
}

Dense::Dense(int64_t in_features, int64_t out_features, bool with_bias, DenseInit init) {
  kernel = register_parameter("kernel", init == DenseInit::kLecunNormal
                                            ? lecun_normal(in_features, {in_features, out_features})
                                            : normal_002({in_features, out_features}));
  if (with_bias) bias = register_parameter("bias", torch::zeros({out_features}));
}

at::Tensor Dense::forward(const at::Tensor& x) const {
  return product(x, bias);
}

void Dense::forward_into(const at::Tensor& x, const at::Tensor& out) const {
  if (ops::cpu_matmul(x, compute_weight(kernel), bias, out).defined()) return;
  out.copy_(forward(x));
}

at::Tensor Dense::matmul(const at::Tensor& x) const {
  return product(x, {});
}

at::Tensor Dense::product(const at::Tensor& x, const at::Tensor& b) const {
  // The GEMMs at::linear(x, kernel.t(), bias) would run, but with the leaf kernel (or its bf16
  // copy, model/compute_weights.h) itself as the operand: under bf16 autocast a leaf's cast is
  // cached (a view like kernel.t() is re-cast on every call) and a copy needs no cast at all.
  const at::Tensor w = compute_weight(kernel);
  if (x.dim() == 2 || (x.dim() == 3 && x.is_contiguous())) {  // one GEMM over [B·N, in]
    const at::Tensor x2 = x.dim() == 2 ? x : x.view({-1, x.size(2)});
    // CPU inference: oneDNN, the bias in the GEMM's store (ops/cpu_matmul.h); else addmm / mm.
    at::Tensor y = ops::cpu_matmul(x2, w, b);
    if (!y.defined()) y = b.defined() ? at::addmm(compute_weight(b), x2, w) : at::mm(x2, w);
    return x.dim() == 2 ? y : y.view({x.size(0), x.size(1), -1});
  }
  at::Tensor y = at::matmul(x, w);
  return b.defined() ? y.add_(b) : y;
}

LayerNorm::LayerNorm(int64_t features, double eps) : eps_(eps) {
  scale = register_parameter("scale", torch::ones({features}));
  bias = register_parameter("bias", torch::zeros({features}));
}

at::Tensor LayerNorm::forward(const at::Tensor& x) const {
  // Under bf16 autocast the input may be bf16: normalise in fp32, like autocast's fp32 ops.
  const at::Tensor in = x.scalar_type() == scale.scalar_type() ? x : x.to(scale.scalar_type());
  return at::layer_norm(in, {x.size(-1)}, scale, bias, eps_);
}

at::Tensor LayerNorm::forward(const at::Tensor& x, const at::Tensor& residual, bool allow_bf16,
                              const ops::FusedDropout& dropout) const {
  // bf16 out under bf16 end to end (statistics in fp32): the next sublayer's GEMMs cast nothing.
  return ops::add_layer_norm(
      x, residual, scale, bias, eps_,
      allow_bf16 && bf16_activations(x) ? at::kBFloat16 : scale.scalar_type(), dropout);
}

}  // namespace smx::model
