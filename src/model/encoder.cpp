#include "smx/model/encoder.h"

#include <torch/torch.h>

#include "smx/core/error.h"
#include "smx/core/shape.h"

namespace smx::model {

Encoder::Encoder(const ModelConfig& config) : config_(config) {
  config_.validate();
  embedder = register_module("embedder", std::make_shared<Embedder>(config));
  layers = register_module("layers", torch::nn::ModuleList());
  for (int64_t l = 0; l < config.num_layers; ++l)
    layers->push_back(std::make_shared<EncoderBlock>(config, l));
  pooler = register_module("pooler", std::make_shared<Dense>(config.d_model, config.d_model));
}

void Encoder::check_inputs(const at::Tensor& ids, const at::Tensor& types) const {
  if (ids.dim() != 2 || types.sizes() != ids.sizes())
    fail("encoder input: input_ids and type_ids must both be [batch, seq_len]; got {} and {}",
         shape_string(ids.sizes()), shape_string(types.sizes()));
  const int64_t N = ids.size(1);
  if (N < 1 || N > config_.max_seq_len)
    fail("encoder input: sequence length {} is outside [1, max_seq_len = {}]", N,
         config_.max_seq_len);
  // Out-of-range ids would fail deep inside an embedding lookup; say which table instead.
  if (types.numel() > 0) {
    const auto [type_min, type_max] = at::aminmax(types);
    const int64_t lo = type_min.item<int64_t>(), hi = type_max.item<int64_t>();
    if (lo < 0 || hi >= config_.type_vocab_size)
      fail(
          "encoder input: type ids span [{}, {}] but the model has type_vocab_size = {} (an "
          "input of more segments than the model has types; imported BERT models have 2)",
          lo, hi, config_.type_vocab_size);
  }
  const bool position_free = config_.is_bert() && config_.num_moe_layers == 0;
  if (config_.padding == Padding::kReference && !position_free && N != config_.max_seq_len)
    fail(
        "encoder input: `reference` padding needs every batch padded to max_seq_len = {} "
        "(got {}); pad with pad_id or use padding \"masked\" for variable lengths",
        config_.max_seq_len, N);
}

EncoderOutput Encoder::forward(const at::Tensor& input_ids, const at::Tensor& type_ids) {
  check_inputs(input_ids, type_ids);
  EncoderOutput out;
  out.valid = input_ids.ne(config_.pad_id);
  // One check per forward: without pads the blocks skip zeroing them (a pass over [B, N, D] each,
  // and its backward).
  const bool has_pads = !out.valid.all().item<bool>();
  at::Tensor h = embedder->forward(input_ids, type_ids);
  std::vector<at::Tensor> aux, z;
  for (const auto& module : *layers) {
    BlockOutput b = module->as<EncoderBlock>()->forward(h, out.valid, has_pads);
    h = b.hidden;
    if (b.z_loss.defined()) {
      aux.push_back(b.aux_loss);
      z.push_back(b.z_loss);
    }
  }
  out.hidden = h;
  out.pooled = at::tanh(pooler->forward(h.select(1, 0)));
  const auto loss_options = h.options().dtype(torch::kFloat);
  out.aux_loss = aux.empty() ? torch::zeros({0}, loss_options) : torch::stack(aux);
  out.z_loss = z.empty() ? torch::zeros({0}, loss_options) : torch::stack(z);
  return out;
}

}  // namespace smx::model
