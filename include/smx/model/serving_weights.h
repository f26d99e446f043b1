// A model loaded for bf16 serving holds its GEMM weights in bf16, once (docs/design.md §7.5):
// every matrix a GEMM reads under bf16 autocast (Dense kernels, the experts' stacked kernels,
// Linear mixing's two matrices) is converted in place, and its fp32 copy is freed. What autocast
// keeps in fp32 stays fp32: the router (autocast is excluded around it), LayerNorm, embedding
// tables and biases (the GEMM biases are cast per call, a few KB; the GELU biases are read in
// fp32). Autocast's cast of a weight is the same .to(bf16) done here, so outputs are identical to
// running the fp32 model under autocast; a converted model must run under bf16 autocast.
#pragma once

#include <cstdint>

#include <torch/nn/module.h>

namespace smx::model {

struct WeightConversion {
  int64_t tensors = 0;       // tensors converted
  int64_t bytes_before = 0;  // all parameters, before
  int64_t bytes_after = 0;   // all parameters, after
};

// Converts `model`'s GEMM weights to `dtype` (bf16) in place; already converted tensors are left
// alone, so calling twice converts nothing more.
WeightConversion hold_gemm_weights_in(torch::nn::Module& model, at::ScalarType dtype);

// Bytes of all parameters at their current dtypes.
int64_t parameter_bytes(const torch::nn::Module& model);

}  // namespace smx::model
