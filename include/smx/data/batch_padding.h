// Ragged token sequences -> one padded [B, N] int64 tensor.
#pragma once

#include <cstdint>
#include <vector>

#include <ATen/core/Tensor.h>

namespace smx::data {

// Pads (or rejects) every row to `length` with `pad`; a row longer than `length` is an error.
at::Tensor pad_sequences(const std::vector<std::vector<int64_t>>& rows, int64_t length,
                         int64_t pad);

}  // namespace smx::data
