// Mixture-of-Experts sublayer (docs/design.md §2): a router (Dense D->E with bias, fp32) scores
// every token, the routing rule fills E expert buffers of M slots each, all experts run as one
// batched GEMM on [E, M, D], and outputs are scatter-added back weighted by the router probability.
#pragma once

#include <functional>
#include <vector>

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
  // Experts first .. first + n - 1 on their slots (one bmm pair over that range of the stacked
  // weights, which are narrowed, never copied): [n, M, D] -> [n, M, D]. Without
  // `with_output_bias` the output biases are left for the caller to add (the combine pass does).
  at::Tensor run_expert_range(const at::Tensor& buffer, int64_t first,
                              bool with_output_bias = true);

  // Eval only (docs/design.md §2.6): an expert whose slots all have combine weight 0 (no real
  // token) is not run and its weights are not read. Bit-identical outputs either way; off = the
  // ablation `smx bench --serving --ablation` measures.
  bool skip_empty_experts = true;
  // Experts that ran in the last forward (E without skipping), for the memory-traffic floor.
  int64_t last_active_experts() const { return last_active_experts_; }
  // Overrides eval_min_expert_capacity of the config this layer was built with (-1: use
  // min_expert_capacity); for serving a loaded model with another tiny-input rule.
  void set_eval_min_expert_capacity(int64_t capacity);

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
  int64_t last_active_experts_ = 0;
};

// Every MoE layer under `module`: set_eval_min_expert_capacity(capacity); returns how many.
int64_t set_eval_min_expert_capacity(torch::nn::Module& module, int64_t capacity);
// Every MoE layer under `module`: skip_empty_experts = on.
void set_skip_empty_experts(torch::nn::Module& module, bool on);
// last_active_experts() of each MoE layer under `module`, in module order.
std::vector<int64_t> active_experts_per_layer(const torch::nn::Module& module);

}  // namespace smx::model
