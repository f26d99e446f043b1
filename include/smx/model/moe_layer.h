// Mixture-of-Experts sublayer (docs/design.md §2): a router (Dense D->E with bias, fp32) scores
// every token, the routing rule fills E expert buffers of M slots each, all experts run as one
// batched GEMM on [E, M, D], and outputs are scatter-added back weighted by the router probability.
#pragma once

#include <functional>

#include "smx/config/model_config.h"
#include "smx/model/dense.h"
#include "smx/routing/routers.h"

namespace smx::model {

struct MoeOutput {
  at::Tensor output;    // [B, N, D]
  at::Tensor aux_loss;  // [] load-balancing loss (0 for experts-choose)
  at::Tensor z_loss;    // [] router z-loss
};

class MoeLayer : public torch::nn::Module {
 public:
  explicit MoeLayer(const ModelConfig& config);
  // x: [B, N, D]; valid: [B, N] bool, or undefined when every position is routed (reference).
  MoeOutput forward(const at::Tensor& x, const at::Tensor& valid);
  // The experts this layer holds (intermediate_kernel.size(0): E, or E/W when expert-parallel)
  // on their slots, output dropout included: [E_held, M, D] -> [E_held, M, D].
  at::Tensor run_experts(const at::Tensor& buffer);

  // When set, runs the dispatched [E, M, D] buffer instead of run_experts: expert parallelism
  // (dist/expert_parallel.h) ships each expert's slots to the rank holding it and back.
  std::function<at::Tensor(MoeLayer& layer, const at::Tensor& buffer)> expert_runner;

  std::shared_ptr<Dense> router;   // kernel [D, E], bias [E]
  at::Tensor intermediate_kernel;  // [E, D, F]
  at::Tensor intermediate_bias;    // [E, F]
  at::Tensor output_kernel;        // [E, F, D]
  at::Tensor output_bias;          // [E, D]

 private:
  ModelConfig config_;
  routing::Router route_;  // config_.dispatch_algorithm's router, chosen at construction
};

}  // namespace smx::model
