// Token-mixing sublayers (docs/design.md §1.4). Each acts on [B, N, D] and returns [B, N, D].
// Sequence-axis transforms are defined at N_max = max_seq_len; a batch of padded length N <= N_max
// uses their top-left N×N block. With pads zeroed (`masked` padding) that is exactly the N_max
// transform of the zero-padded input, so an example's output does not depend on its padding.
#pragma once

#include <memory>
#include <string>

#include <torch/nn/module.h>

#include "smx/config/model_config.h"

namespace smx::model {

struct MixingInput {
  at::Tensor x;          // [B, N, D]
  at::Tensor valid;      // [B, N] bool: real (non-pad) tokens
  bool has_pads = true;  // some entry of valid is false (the encoder checks once per forward)
};

class Mixing : public torch::nn::Module {
 public:
  virtual at::Tensor forward(const MixingInput& input) = 0;
};

// The mixing sublayer of layer `layer` of `config`: attention or the architecture's transform,
// built by the factory of its config/mixing_kinds.h row.
std::shared_ptr<Mixing> make_mixing(const ModelConfig& config, int64_t layer);

// Builds the module of one mixing kind from a config.
using MixingFactory = std::shared_ptr<Mixing> (*)(const ModelConfig& config);
// The factory of the kind whose model_arch is `arch`, or nullptr (tests: every row has one).
MixingFactory find_mixing_factory(const std::string& arch);

}  // namespace smx::model
