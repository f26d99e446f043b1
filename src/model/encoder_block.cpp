#include "smx/model/encoder_block.h"

#include <torch/torch.h>

#include "smx/model/dropout.h"

namespace smx::model {

EncoderBlock::EncoderBlock(const ModelConfig& config, int64_t layer)
    : masked_(config.padding == Padding::kMasked) {
  mixing = register_module("mixing", make_mixing(config, layer));
  mixing_layer_norm = register_module(
      "mixing_layer_norm", std::make_shared<LayerNorm>(config.d_model, config.layer_norm_eps));
  if (config.is_moe_layer(layer))
    moe = register_module("moe", std::make_shared<MoeLayer>(config));
  else
    feed_forward = register_module(
        "feed_forward",
        std::make_shared<Mlp>(config.d_model, config.d_ff, config.dropout_rate,
                              config.exact_gelu() ? ops::GeluKind::kErf : ops::GeluKind::kTanh));
  output_layer_norm = register_module(
      "output_layer_norm", std::make_shared<LayerNorm>(config.d_model, config.layer_norm_eps));
}

BlockOutput EncoderBlock::forward(const at::Tensor& x_in, const at::Tensor& valid, bool has_pads) {
  // `masked`: zero pads so no transform can carry them into real tokens.
  const at::Tensor x =
      masked_ && has_pads ? x_in * valid.unsqueeze(2).to(x_in.scalar_type()) : x_in;
  // LN(x + mix). Before an MoE sublayer it stays fp32 even with bf16 activations: the router reads
  // it in fp32 (routing does not depend on the compute dtype's rounding, docs/design.md §7.5) and
  // the dispatch gather rounds the expert inputs to bf16 itself, so no pass is added either way.
  const at::Tensor y =
      mixing_layer_norm->forward(mixing->forward({x, valid, has_pads}), x, /*allow_bf16=*/!moe);
  BlockOutput out;
  at::Tensor f;               // the feed-forward sublayer's output
  ops::FusedDropout dropout;  // applied to f inside the add & norm (none: rate 0)
  if (moe) {
    MoeOutput m = moe->forward(y, masked_ ? valid : at::Tensor());
    f = m.output;
    out.aux_loss = m.aux_loss;
    out.z_loss = m.z_loss;
  } else {
    // The MLP's output dropout rides inside the add & norm pass where the counter-based kernels
    // run (model/dropout.h): no separate pass over f.
    f = feed_forward->forward(y);
    dropout = fused_dropout_for(f, feed_forward->dropout_rate(), is_training());
    if (dropout.rate == 0) f = model::dropout(f, feed_forward->dropout_rate(), is_training());
  }
  out.hidden = output_layer_norm->forward(f, y, /*allow_bf16=*/true, dropout);  // LN(y + f)
  return out;
}

}  // namespace smx::model
