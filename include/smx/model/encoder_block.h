// One post-LN encoder block (docs/design.md §1.2):
//   y = LayerNorm_mix(x + Mix(x));  z = y + FF(y);  out = LayerNorm_out(z)
// FF is a dense MLP or an MoE layer. With `masked` padding, pads are zeroed before mixing.
#pragma once

#include "smx/config/model_config.h"
#include "smx/model/mixing.h"
#include "smx/model/mlp.h"
#include "smx/model/moe_layer.h"

namespace smx::model {

struct BlockOutput {
  at::Tensor hidden;    // [B, N, D]
  at::Tensor aux_loss;  // [] (undefined for a dense block)
  at::Tensor z_loss;    // [] (undefined for a dense block)
};

class EncoderBlock : public torch::nn::Module {
 public:
  EncoderBlock(const ModelConfig& config, int64_t layer);
  // x: [B, N, D]; valid: [B, N] bool; has_pads: some valid entry is false.
  BlockOutput forward(const at::Tensor& x, const at::Tensor& valid, bool has_pads = true);

  bool is_moe() const { return moe != nullptr; }

  std::shared_ptr<Mixing> mixing;
  std::shared_ptr<LayerNorm> mixing_layer_norm;
  std::shared_ptr<Mlp> feed_forward;  // dense blocks
  std::shared_ptr<MoeLayer> moe;      // MoE blocks
  std::shared_ptr<LayerNorm> output_layer_norm;

 private:
  bool masked_;
};

}  // namespace smx::model
