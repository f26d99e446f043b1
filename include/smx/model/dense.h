// Dense layer y = x · kernel + bias, with the kernel stored [in, out] as in the reference (Flax).
#pragma once

#include <torch/nn/module.h>

#include "smx/model/compute_weights.h"  // compute_weight(): layers' weights in the compute dtype
#include "smx/ops/dropout.h"            // FusedDropout

namespace smx::model {

enum class DenseInit { kNormal002, kLecunNormal };

class Dense : public torch::nn::Module {
 public:
  Dense(int64_t in_features, int64_t out_features, bool bias = true,
        DenseInit init = DenseInit::kNormal002);
  at::Tensor forward(const at::Tensor& x) const;  // [..., in] -> [..., out]
  // forward(x) written into `out`: x [T, in], out [T, out], contiguous (a row range of a larger
  // result). CPU inference writes it from the GEMM (ops/cpu_matmul.h); elsewhere it is a copy.
  void forward_into(const at::Tensor& x, const at::Tensor& out) const;
  // x · kernel without the bias, for callers that fuse the bias into the next op.
  at::Tensor matmul(const at::Tensor& x) const;  // [..., in] -> [..., out]

  at::Tensor kernel;  // [in, out]
  at::Tensor bias;    // [out] (undefined without bias)

 private:
  // x · kernel (+ b, when defined): [..., in] -> [..., out]; forward() and matmul() both.
  at::Tensor product(const at::Tensor& x, const at::Tensor& b) const;
};

// LayerNorm over the last axis with ε (the config's layer_norm_eps, 1e-12 by default), learned
// `scale` and `bias` (Flax names).
class LayerNorm : public torch::nn::Module {
 public:
  explicit LayerNorm(int64_t features, double eps = 1e-12);
  at::Tensor forward(const at::Tensor& x) const;  // [..., D] -> [..., D]
  // LayerNorm(x + residual) in one fused pass (ops/add_layer_norm.h); fp32 out, or bf16 when
  // `allow_bf16` and activations stay bf16 (model/compute_weights.h); `dropout` applies to x.
  at::Tensor forward(const at::Tensor& x, const at::Tensor& residual, bool allow_bf16 = true,
                     const ops::FusedDropout& dropout = {}) const;

  at::Tensor scale;  // [D]
  at::Tensor bias;   // [D]
  double eps() const { return eps_; }

 private:
  double eps_;
};

// While one is alive on this thread, normal_002 and lecun_normal return uninitialised fp32
// tensors of the requested shape and draw nothing from the generator: for building a model only
// to overwrite every parameter from a weights file (model folders, `smx forward`), where the
// random initialisation would be wasted work (seconds for a Base model). Nests; scoped (RAII).
// Zero and one initialisers (biases, LayerNorm) are cheap and unaffected.
class SkipParameterInit {
 public:
  SkipParameterInit();
  ~SkipParameterInit();
  SkipParameterInit(const SkipParameterInit&) = delete;
  SkipParameterInit& operator=(const SkipParameterInit&) = delete;

 private:
  bool previous_;
};

// True while a SkipParameterInit is alive on this thread.
bool parameter_init_skipped();

// N(0, 0.02²), the reference initialiser of embeddings and kernels (docs/design.md §1.6).
at::Tensor normal_002(at::IntArrayRef shape);
// Flax's default lecun_normal: truncated normal on [-2σ, 2σ], fan-in variance.
at::Tensor lecun_normal(int64_t fan_in, at::IntArrayRef shape);

}  // namespace smx::model
