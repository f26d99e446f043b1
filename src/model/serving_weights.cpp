#include "smx/model/serving_weights.h"

#include <unordered_set>

#include <torch/torch.h>

#include "smx/model/dense.h"
#include "smx/model/linear_mixing.h"
#include "smx/model/moe_layer.h"

namespace smx::model {
namespace {

// Replaces w's data by its cast (the same TensorImpl, so every holder sees the new dtype).
bool convert_weight(at::Tensor& w, at::ScalarType dtype) {
  if (!w.defined() || w.scalar_type() == dtype) return false;
  torch::NoGradGuard no_grad;
  w.set_data(w.detach().to(dtype).contiguous());
  return true;
}

}  // namespace

int64_t parameter_bytes(const torch::nn::Module& model) {
  int64_t bytes = 0;
  for (const auto& p : model.parameters())
    bytes += p.numel() * static_cast<int64_t>(p.element_size());
  return bytes;
}

WeightConversion hold_gemm_weights_in(torch::nn::Module& model, at::ScalarType dtype) {
  WeightConversion r;
  r.bytes_before = parameter_bytes(model);
  // Routers stay fp32: autocast is excluded around them (docs/design.md §2.2).
  std::unordered_set<const torch::nn::Module*> routers;
  for (const auto& m : model.modules())
    if (const auto* moe = dynamic_cast<const MoeLayer*>(m.get())) routers.insert(moe->router.get());
  for (const auto& m : model.modules()) {
    if (auto* dense = dynamic_cast<Dense*>(m.get())) {
      if (routers.count(dense) == 0) r.tensors += convert_weight(dense->kernel, dtype);
    } else if (auto* moe = dynamic_cast<MoeLayer*>(m.get())) {
      r.tensors += convert_weight(moe->intermediate_kernel, dtype);
      r.tensors += convert_weight(moe->output_kernel, dtype);
    } else if (auto* linear = dynamic_cast<LinearMixing*>(m.get())) {
      r.tensors += convert_weight(linear->input_kernel, dtype);
      r.tensors += convert_weight(linear->hidden_kernel, dtype);
    }
  }
  r.bytes_after = parameter_bytes(model);
  return r;
}

}  // namespace smx::model
