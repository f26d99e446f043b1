// bf16 autocast for a scope (CPU and CUDA): matmuls run in bf16, the router, softmaxes and losses
// stay fp32 (docs/design.md §7.5). Shared by pre-training, fine-tuning, serving and the benchmarks.
#pragma once

#include <ATen/core/TensorBody.h>

namespace smx {

// What a scope does on exit with autocast's cache of weights it cast to bf16.
enum class AutocastCache {
  kClear,  // weights may change after the scope (training): drop the casts
  kKeep,   // weights stay as they are (repeated eval forwards): reuse the casts
};

// Turns bf16 autocast on for the scope when `enabled`. On exit the previous state (on or off, and
// its dtype) comes back, so scopes nest; with AutocastCache::kClear the cast cache is emptied.
class AutocastScope {
 public:
  AutocastScope(bool enabled, const at::Device& device,
                AutocastCache cache = AutocastCache::kClear);
  ~AutocastScope();
  AutocastScope(const AutocastScope&) = delete;
  AutocastScope& operator=(const AutocastScope&) = delete;

 private:
  bool enabled_;
  c10::DeviceType type_;
  AutocastCache cache_;
  bool was_enabled_ = false;
  at::ScalarType previous_dtype_ = at::kBFloat16;
};

// Empties autocast's cast cache (after an optimizer step that a kKeep scope did not see).
void clear_autocast_cache();

}  // namespace smx
