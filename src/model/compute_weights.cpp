#include "smx/model/compute_weights.h"

#include <atomic>
#include <mutex>
#include <unordered_map>

#include <ATen/autocast_mode.h>
#include <c10/core/GradMode.h>
#include <c10/util/intrusive_ptr.h>

#include "smx/core/torch_compat.h"

namespace smx::model {
namespace {

std::atomic<bool> g_bf16_end_to_end{true};

struct WeightCopyEntry {
  // Weak: the table keeps the master's TensorImpl object (not its storage) from being freed, so
  // its address cannot be reused by another tensor while the entry exists.
  c10::weak_intrusive_ptr<c10::TensorImpl> master{c10::intrusive_ptr<c10::TensorImpl>()};
  at::Tensor copy;      // same shape as the master, bf16, contiguous
  int64_t version = 0;  // the master's version counter when the copy was last written
};

struct WeightCopyTable {
  std::mutex mutex;
  std::unordered_map<const c10::TensorImpl*, WeightCopyEntry> entries;

  // The live entry of w, or null (an entry whose master died is erased).
  WeightCopyEntry* find(const at::Tensor& w) {
    const auto it = entries.find(w.unsafeGetTensorImpl());
    if (it == entries.end()) return nullptr;
    if (it->second.master.expired()) {
      entries.erase(it);
      return nullptr;
    }
    return &it->second;
  }

  void sweep() {
    for (auto it = entries.begin(); it != entries.end();)
      it = it->second.master.expired() ? entries.erase(it) : std::next(it);
  }
};

WeightCopyTable& weight_copy_table() {
  static WeightCopyTable table;
  return table;
}

}  // namespace

bool bf16_end_to_end_enabled() {
  return g_bf16_end_to_end.load(std::memory_order_relaxed);
}

void set_bf16_end_to_end(bool enabled) {
  g_bf16_end_to_end.store(enabled, std::memory_order_relaxed);
}

at::ScalarType compute_dtype(const at::Tensor& t) {
  // compat::autocast_enabled is false where the autocast key is excluded (the router).
  const c10::DeviceType device = t.device().type();
  if ((t.is_cpu() || t.is_cuda()) && compat::autocast_enabled(device))
    return compat::autocast_dtype(device);
  return t.scalar_type();
}

bool bf16_activations(const at::Tensor& t) {
  return bf16_end_to_end_enabled() && compute_dtype(t) == at::kBFloat16;
}

at::Tensor compute_weight(const at::Tensor& w) {
  if (!w.defined() || w.scalar_type() != at::kFloat || !bf16_activations(w)) return w;
  WeightCopyTable& table = weight_copy_table();
  const std::lock_guard<std::mutex> lock(table.mutex);
  const c10::AutoGradMode no_grad(false);  // copies are written outside any graph
  if (WeightCopyEntry* e = table.find(w)) {
    if (e->version != w._version()) {  // the master was written by someone else than AdamW
      e->copy.copy_(w);
      e->version = w._version();
    }
    return e->copy;
  }
  table.sweep();
  WeightCopyEntry e;
  e.master = c10::weak_intrusive_ptr<c10::TensorImpl>(w.getIntrusivePtr());
  e.copy = at::empty(w.sizes(), w.options().dtype(at::kBFloat16));
  e.copy.copy_(w);
  e.copy.set_requires_grad(w.requires_grad());
  e.version = w._version();
  at::Tensor copy = e.copy;
  table.entries.emplace(w.unsafeGetTensorImpl(), std::move(e));
  return copy;
}

at::Tensor weight_copy(const at::Tensor& w) {
  WeightCopyTable& table = weight_copy_table();
  const std::lock_guard<std::mutex> lock(table.mutex);
  const WeightCopyEntry* e = table.find(w);
  return e ? e->copy : at::Tensor();
}

void weight_copy_written(const at::Tensor& w) {
  WeightCopyTable& table = weight_copy_table();
  const std::lock_guard<std::mutex> lock(table.mutex);
  if (WeightCopyEntry* e = table.find(w)) e->version = w._version();
}

void drop_weight_copies(const std::vector<at::Tensor>& weights) {
  WeightCopyTable& table = weight_copy_table();
  const std::lock_guard<std::mutex> lock(table.mutex);
  for (const at::Tensor& w : weights)
    if (w.defined()) table.entries.erase(w.unsafeGetTensorImpl());
  table.sweep();
}

size_t weight_copy_count() {
  WeightCopyTable& table = weight_copy_table();
  const std::lock_guard<std::mutex> lock(table.mutex);
  table.sweep();
  return table.entries.size();
}

void fold_weight_copy_grads(const torch::nn::Module& module) {
  const c10::AutoGradMode no_grad(false);
  for (at::Tensor p : module.parameters()) {
    at::Tensor copy = weight_copy(p);
    if (!copy.defined() || !copy.grad().defined()) continue;
    const at::Tensor g = copy.grad().to(p.scalar_type());
    if (p.grad().defined())
      p.mutable_grad().add_(g);
    else
      p.mutable_grad() = g;
    copy.mutable_grad() = at::Tensor();
  }
}

}  // namespace smx::model
