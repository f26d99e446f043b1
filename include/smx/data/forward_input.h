// The JSON input of `smx forward` (docs/forward-input.md) as padded tensors.
#pragma once

#include <string>

#include <ATen/core/Tensor.h>

#include "smx/config/model_config.h"

namespace smx::data {

struct ForwardInput {
  at::Tensor input_ids;            // [B, N] int64, padded per the config's padding
  at::Tensor type_ids;             // [B, N] int64 (0 where not given)
  at::Tensor masked_lm_positions;  // [B, P] int64, or undefined when not given
};

// Parses and validates `text` (`source` names it in errors): keys, integer types, id and type
// ranges, row counts and lengths against `config`.
ForwardInput parse_forward_input(const std::string& text, const ModelConfig& config,
                                 const std::string& source);

}  // namespace smx::data
