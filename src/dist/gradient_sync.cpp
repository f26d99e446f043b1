#include "smx/dist/gradient_sync.h"

#include <torch/torch.h>

#include "smx/core/error.h"

namespace smx::dist {

void broadcast_parameters(ProcessGroup& group, const std::vector<NamedParameter>& parameters) {
  torch::NoGradGuard no_grad;
  std::vector<at::Tensor> staged;
  for (const auto& p : parameters) staged.push_back(p.tensor.to(group.device()).contiguous());
  group.broadcast(staged, 0, "broadcasting the initial weights from rank 0");
  for (size_t i = 0; i < parameters.size(); ++i) parameters[i].tensor.copy_(staged[i]);
}

GradientSync::GradientSync(std::shared_ptr<ProcessGroup> group,
                           std::vector<NamedParameter> replicated,
                           std::vector<NamedParameter> local, double bucket_mb)
    : group_(std::move(group)), replicated_(std::move(replicated)), local_(std::move(local)) {
  if (!(bucket_mb > 0)) fail("--bucket-mb must be > 0 (got {})", bucket_mb);
  const auto limit = static_cast<int64_t>(bucket_mb * 1024 * 1024);
  int64_t bytes = 0;
  for (size_t i = 0; i < replicated_.size(); ++i) {
    const at::Tensor& t = replicated_[i].tensor;
    const int64_t size = t.numel() * static_cast<int64_t>(t.element_size());
    const bool new_bucket =
        buckets_.empty() || bytes + size > limit ||
        replicated_[buckets_.back().front()].tensor.scalar_type() != t.scalar_type();
    if (new_bucket) {
      buckets_.emplace_back();
      bytes = 0;
    }
    buckets_.back().push_back(i);
    bytes += size;
  }
}

void GradientSync::average() {
  torch::NoGradGuard no_grad;
  const double inv_world = 1.0 / static_cast<double>(group_->world_size());
  // One [numel + parameters] tensor per bucket: the gradients, then a 1 for each gradient this rank
  // produced, so that the sum also counts the ranks that produced it.
  std::vector<at::Tensor> flat;
  for (const auto& bucket : buckets_) {
    std::vector<at::Tensor> pieces;
    std::vector<double> produced;
    for (size_t i : bucket) {
      at::Tensor& p = replicated_[i].tensor;
      produced.push_back(p.grad().defined() ? 1.0 : 0.0);
      if (!p.grad().defined()) p.mutable_grad() = at::zeros_like(p);
      pieces.push_back(p.grad().reshape({-1}));
    }
    pieces.push_back(torch::tensor(produced, pieces.front().options()));
    flat.push_back(at::cat(pieces).to(group_->device()));
  }
  group_->all_reduce(flat, ReduceOp::sum, "all-reduce of gradients");
  for (size_t b = 0; b < buckets_.size(); ++b) {
    int64_t offset = 0;
    for (size_t i : buckets_[b]) {
      at::Tensor& g = replicated_[i].tensor.mutable_grad();
      const int64_t n = g.numel();
      g.copy_(flat[b].narrow(0, offset, n).view_as(g)).mul_(inv_world);
      offset += n;
    }
    const at::Tensor produced =
        flat[b].narrow(0, offset, static_cast<int64_t>(buckets_[b].size())).cpu();
    for (size_t k = 0; k < buckets_[b].size(); ++k)  // no rank used it: the optimizer skips it
      if (produced[static_cast<int64_t>(k)].item<double>() == 0)
        replicated_[buckets_[b][k]].tensor.mutable_grad() = at::Tensor();
  }
  for (auto& p : local_)
    if (p.tensor.grad().defined()) p.tensor.mutable_grad().mul_(inv_world);
}

void GradientSync::check_replicas(int64_t step) const {
  torch::NoGradGuard no_grad;
  // Two numbers per parameter: the sum, and a position-weighted sum that catches permutations.
  std::vector<at::Tensor> sums;
  for (const auto& p : replicated_) {
    const at::Tensor v = p.tensor.detach().reshape({-1}).to(at::kDouble);
    const at::Tensor ramp =
        at::arange(1, v.numel() + 1, v.options()) / static_cast<double>(v.numel());
    sums.push_back(at::stack({v.sum(), (v * ramp).sum()}));
  }
  if (sums.empty()) return;
  at::Tensor lo = at::stack(sums).to(group_->device()), hi = lo.clone();
  std::vector<at::Tensor> a{lo}, b{hi};
  group_->all_reduce(a, ReduceOp::min, "replica check (min)");
  group_->all_reduce(b, ReduceOp::max, "replica check (max)");
  const at::Tensor differ = (hi - lo).abs().gt(1e-9 * (hi.abs() + 1.0)).any(1).cpu();
  for (size_t i = 0; i < replicated_.size(); ++i) {
    if (differ[static_cast<int64_t>(i)].item<bool>())
      fail(
          "rank {}: after step {} the replicas of parameter '{}' differ across ranks (checksums "
          "{:.17g} .. {:.17g}): the ranks diverged (non-deterministic kernels, or a rank skipped a "
          "step). Resume from the last checkpoint",
          group_->rank(), step, replicated_[i].name, lo[static_cast<int64_t>(i)][0].item<double>(),
          hi[static_cast<int64_t>(i)][0].item<double>());
  }
}

}  // namespace smx::dist
