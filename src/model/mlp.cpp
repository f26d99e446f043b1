#include "smx/model/mlp.h"

#include <algorithm>

#include <torch/torch.h>

#include "smx/ops/bias_gelu.h"
#include "smx/ops/cpu_matmul.h"
#include "smx/ops/fused_kernels.h"

namespace smx::model {
namespace {

// Rows per tile of CPU inference's MLP: the [rows, F] intermediate (4-6 MB in bf16 at Base size)
// is written, activated and read back while it is still in cache. 1024 and 2048 measured alike,
// 512 and 256 slower than no tiles (bench/README.md, speed log).
constexpr int64_t kTileRows = 1024;

}  // namespace

Mlp::Mlp(int64_t d_model, int64_t d_ff, double dropout_rate, ops::GeluKind gelu)
    : dropout_rate_(dropout_rate), gelu_(gelu) {
  intermediate = register_module("intermediate", std::make_shared<Dense>(d_model, d_ff));
  output = register_module("output", std::make_shared<Dense>(d_ff, d_model));
}

at::Tensor Mlp::forward(const at::Tensor& x) const {
  const int64_t rows = x.numel() / std::max<int64_t>(1, x.size(-1));
  if (rows > kTileRows && x.device().is_cpu() && x.is_contiguous() && !at::GradMode::is_enabled() &&
      ops::fused_kernels_enabled() && ops::cpu_matmul_built())
    return forward_tiles(x.view({rows, x.size(-1)})).view(x.sizes());
  // The intermediate bias rides in the GELU pass (ops/bias_gelu.h): one pass over [.., F].
  const at::Tensor h = ops::bias_gelu(intermediate->matmul(x), intermediate->bias, gelu_);
  return output->forward(h);
}

at::Tensor Mlp::forward_tiles(const at::Tensor& x) const {
  at::Tensor y;  // [T, D], each tile's rows written by its second product
  for (int64_t r = 0; r < x.size(0); r += kTileRows) {
    const int64_t n = std::min(kTileRows, x.size(0) - r);
    const at::Tensor h = ops::bias_gelu(intermediate->matmul(x.narrow(0, r, n)), intermediate->bias,
                                        gelu_);  // [n, F]
    if (!y.defined()) y = at::empty({x.size(0), output->kernel.size(1)}, h.options());
    output->forward_into(h, y.narrow(0, r, n));
  }
  return y;
}

}  // namespace smx::model
