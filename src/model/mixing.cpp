#include "smx/model/mixing.h"

#include "smx/model/attention.h"
#include "smx/model/circulant_mixing.h"
#include "smx/model/fourier_mixing.h"
#include "smx/model/linear_mixing.h"
#include "smx/model/toeplitz_mixing.h"

namespace smx::model {

std::shared_ptr<Mixing> make_mixing(const ModelConfig& c, int64_t layer) {
  if (c.is_attention_layer(layer))
    return std::make_shared<SelfAttention>(c.d_model, c.num_heads, c.mixing_dropout_rate);
  switch (c.mixing_kind()) {
    case MixingKind::kLinear:
      return std::make_shared<LinearMixing>(c.max_seq_len, c.d_model);
    case MixingKind::kFourier:
      return std::make_shared<FourierMixing>(c.max_seq_len, false, c.use_fft);
    case MixingKind::kHartley:
      return std::make_shared<FourierMixing>(c.max_seq_len, true, c.use_fft);
    case MixingKind::kCirculant:
      return std::make_shared<CirculantMixing>(c.max_seq_len, c.d_model, c.use_fft);
    case MixingKind::kToeplitz:
      return std::make_shared<ToeplitzMixing>(c.max_seq_len, c.d_model, c.use_fft);
    case MixingKind::kAttention:
      break;
  }
  return std::make_shared<SelfAttention>(c.d_model, c.num_heads, c.mixing_dropout_rate);
}

}  // namespace smx::model
