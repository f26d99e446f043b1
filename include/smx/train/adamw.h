// AdamW as the reference uses it (optax adamw, docs/design.md §5): β1 0.9, β2 0.999, ε 1e-6 added
// outside the square root, bias correction, and decoupled weight decay scaled by the learning rate,
// applied to every parameter (LayerNorms and biases included). State is named after the parameters
// so that it can be saved beside the weights and restored exactly.
#pragma once

#include <map>
#include <string>
#include <vector>

#include <torch/nn/module.h>

#include "smx/io/safetensors.h"

namespace smx::train {

struct AdamWOptions {
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-6;
  double weight_decay = 0.01;
};

class AdamW {
 public:
  AdamW(const torch::nn::Module& module, AdamWOptions options);

  // One update with learning rate `lr` from the parameters' current .grad (missing grads: skipped).
  void step(double lr);
  void zero_grad();  // drops the gradients (undefined, as PyTorch's set_to_none)
  int64_t steps() const { return steps_; }

  // Moments as "m.<param>" and "v.<param>", plus "step"; restore checks every name and shape.
  std::vector<io::NamedTensor> state() const;
  void load_state(const std::vector<io::NamedTensor>& state, const std::string& source);

 private:
  AdamWOptions options_;
  std::vector<std::string> names_;
  std::vector<at::Tensor> params_, m_, v_;
  int64_t steps_ = 0;
};

// Scales all gradients so that their global L2 norm is at most `max_norm`; returns the norm before.
double clip_grad_norm(const torch::nn::Module& module, double max_norm);

}  // namespace smx::train
