// Data-parallel bookkeeping of parameters and gradients across the ranks of a ProcessGroup:
//  - broadcast_parameters: rank 0's weights everywhere, so that replicas start identical;
//  - GradientSync::average: gradients of replicated parameters flattened into buckets of about
//    bucket_mb MB (parameter order, one dtype per bucket), each all-reduced (sum) and divided by W,
//    then copied back; gradients of rank-local parameters (expert blocks under expert parallelism)
//    are only divided by W, since the global loss is the mean of the ranks' losses;
//  - check_replicas: a per-parameter checksum compared across ranks (min == max), naming the first
//    parameter whose replicas differ.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <torch/nn/module.h>

#include "smx/dist/process_group.h"

namespace smx::dist {

struct NamedParameter {
  std::string name;
  at::Tensor tensor;
};

void broadcast_parameters(ProcessGroup& group, const std::vector<NamedParameter>& parameters);

class GradientSync {
 public:
  GradientSync(std::shared_ptr<ProcessGroup> group, std::vector<NamedParameter> replicated,
               std::vector<NamedParameter> local, double bucket_mb = 25);

  // After backward, before clipping and the optimizer step. A gradient missing on some ranks counts
  // as zeros there (and is then defined), so every rank reduces the same buckets; one missing on
  // every rank (a parameter the loss does not use, such as the MLM head in fine-tuning) stays
  // undefined, so that the optimizer skips it as in one process.
  void average();
  // Fails with smx::Error if the replicated parameters differ across ranks (`step` for the
  // message).
  void check_replicas(int64_t step) const;

  int64_t buckets() const { return static_cast<int64_t>(buckets_.size()); }

 private:
  std::shared_ptr<ProcessGroup> group_;
  std::vector<NamedParameter> replicated_, local_;
  std::vector<std::vector<size_t>> buckets_;  // indices into replicated_
};

}  // namespace smx::dist
