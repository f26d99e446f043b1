// Narrowing that costs nothing when it keeps everything. A full-range at::narrow still records a
// slice in autograd, whose backward allocates a zero gradient of the whole tensor and copies into
// it (a fill and a copy per use per step, e.g. Linear mixing's W_s at N = N_max).
#pragma once

#include <ATen/core/Tensor.h>

namespace smx::model {

// t.narrow(dim, start, length), or t itself when that is all of t along dim.
inline at::Tensor narrow_or_self(const at::Tensor& t, int64_t dim, int64_t start, int64_t length) {
  return start == 0 && length == t.size(dim) ? t : t.narrow(dim, start, length);
}

}  // namespace smx::model
