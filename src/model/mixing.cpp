#include "smx/model/mixing.h"

#include <map>

#include "smx/core/error.h"
#include "smx/model/attention.h"
#include "smx/model/circulant_mixing.h"
#include "smx/model/fourier_mixing.h"
#include "smx/model/linear_mixing.h"
#include "smx/model/toeplitz_mixing.h"

namespace smx::model {
namespace {

// One row per row of config/mixing_kinds.h, keyed by its model_arch.
const std::map<std::string, MixingFactory>& factories() {
  using C = const ModelConfig&;
  using M = std::shared_ptr<Mixing>;
  static const std::map<std::string, MixingFactory> table = {
      {"bert",
       [](C c) -> M {
         return std::make_shared<SelfAttention>(c.d_model, c.num_heads, c.mixing_dropout_rate);
       }},
      {"linear", [](C c) -> M { return std::make_shared<LinearMixing>(c.max_seq_len, c.d_model); }},
      {"f_net",
       [](C c) -> M { return std::make_shared<FourierMixing>(c.max_seq_len, false, c.use_fft); }},
      {"h_net",
       [](C c) -> M { return std::make_shared<FourierMixing>(c.max_seq_len, true, c.use_fft); }},
      {"c_net",
       [](C c) -> M {
         return std::make_shared<CirculantMixing>(c.max_seq_len, c.d_model, c.use_fft);
       }},
      {"t_net",
       [](C c) -> M {
         return std::make_shared<ToeplitzMixing>(c.max_seq_len, c.d_model, c.use_fft);
       }},
  };
  return table;
}

}  // namespace

MixingFactory find_mixing_factory(const std::string& arch) {
  const auto it = factories().find(arch);
  return it == factories().end() ? nullptr : it->second;
}

std::shared_ptr<Mixing> make_mixing(const ModelConfig& c, int64_t layer) {
  const MixingKindInfo& kind = c.mixing_at(layer);
  const MixingFactory make = find_mixing_factory(kind.arch);
  if (make == nullptr)
    fail(
        "mixing kind '{}' has a row in src/config/mixing_kinds.cpp but no factory in "
        "src/model/mixing.cpp; add one (docs/design.md §8.5)",
        kind.arch);
  return make(c);
}

}  // namespace smx::model
