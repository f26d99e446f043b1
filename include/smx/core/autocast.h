// bf16 autocast for a scope (CPU and CUDA): matmuls run in bf16, the router, softmaxes and losses
// stay fp32 (docs/design.md §7.5). Shared by pre-training, fine-tuning and serving.
#pragma once

#include <ATen/core/TensorBody.h>

namespace smx {

// Turns bf16 autocast on for the scope when `enabled`, turning it off again (and clearing the
// autocast cache) on exit.
class AutocastScope {
 public:
  AutocastScope(bool enabled, const at::Device& device);
  ~AutocastScope();
  AutocastScope(const AutocastScope&) = delete;
  AutocastScope& operator=(const AutocastScope&) = delete;

 private:
  bool enabled_, cuda_;
};

}  // namespace smx
