#include "smx/data/batch_padding.h"

#include <torch/torch.h>

#include "smx/core/error.h"

namespace smx::data {

at::Tensor pad_sequences(const std::vector<std::vector<int64_t>>& rows, int64_t length,
                         int64_t pad) {
  const auto B = static_cast<int64_t>(rows.size());
  at::Tensor out = torch::full({B, length}, pad, torch::kLong);
  auto acc = out.accessor<int64_t, 2>();
  for (int64_t b = 0; b < B; ++b) {
    const auto& row = rows[static_cast<size_t>(b)];
    if (static_cast<int64_t>(row.size()) > length)
      fail("sequence {} has {} tokens, more than the padded length {}", b, row.size(), length);
    for (size_t i = 0; i < row.size(); ++i) acc[b][static_cast<int64_t>(i)] = row[i];
  }
  return out;
}

}  // namespace smx::data
