#include "smx/model/moe_layer.h"

#include <ATen/autocast_mode.h>
#include <c10/core/impl/LocalDispatchKeySet.h>
#include <torch/torch.h>

#include "smx/ops/bias_gelu.h"
#include "smx/ops/expert_dispatch.h"
#include "smx/routing/capacity.h"

namespace smx::model {
namespace {

// The dtype the expert GEMMs run in: autocast's lower precision when it is on, else x's.
at::ScalarType gemm_dtype(const at::Tensor& x) {
  if (x.is_cpu() && at::autocast::is_cpu_enabled()) return at::autocast::get_autocast_cpu_dtype();
  if (x.is_cuda() && at::autocast::is_enabled()) return at::autocast::get_autocast_gpu_dtype();
  return x.scalar_type();
}

}  // namespace

MoeLayer::MoeLayer(const ModelConfig& config)
    : config_(config), route_(routing::make_router(config)) {
  const int64_t D = config.d_model, E = config.num_experts, F = config.expert_d_ff;
  router = register_module("router", std::make_shared<Dense>(D, E));
  // Each expert is drawn independently from N(0, 0.02²) (split_params in the reference).
  intermediate_kernel = register_parameter("intermediate_kernel", normal_002({E, D, F}));
  intermediate_bias = register_parameter("intermediate_bias", torch::zeros({E, F}));
  output_kernel = register_parameter("output_kernel", normal_002({E, F, D}));
  output_bias = register_parameter("output_bias", torch::zeros({E, D}));
}

MoeOutput MoeLayer::forward(const at::Tensor& x, const at::Tensor& valid) {
  const int64_t B = x.size(0), N = x.size(1), D = x.size(2), T = B * N;
  const int64_t E = config_.num_experts;
  const at::Tensor tokens = x.reshape({T, D});  // [T, D], row-major (batch, seq)

  // Router in fp32 (docs/design.md §7.5), with optional multiplicative jitter while training.
  at::Tensor router_in = tokens.to(torch::kFloat);
  if (is_training() && config_.jitter_noise > 0)
    router_in = router_in * torch::empty_like(router_in).uniform_(1.0 - config_.jitter_noise,
                                                                  1.0 + config_.jitter_noise);
  at::Tensor logits;  // [T, E]
  {
    // fp32 even under bf16 autocast: routing decisions and the z-loss see full precision.
    c10::impl::ExcludeDispatchKeyGuard no_autocast(
        c10::DispatchKeySet({c10::DispatchKey::AutocastCPU, c10::DispatchKey::AutocastCUDA}));
    logits = router->forward(router_in);
  }
  const at::Tensor probs = at::softmax(logits, -1);

  // Groups: whole examples ("sequence") or at most max_group_size flattened tokens.
  const int64_t G = config_.sequence_groups() ? B : routing::num_groups(T, config_.max_group_size);
  const int64_t S = T / G;
  routing::RoutingProblem problem;
  problem.probs = probs.view({G, S, E});
  const double cf = is_training() ? config_.train_capacity_factor : config_.eval_capacity_factor;
  std::vector<int64_t> counted(G, S);  // tokens that count towards capacity, per group
  at::Tensor lse_sq = at::logsumexp(logits, -1).square();  // [T]
  at::Tensor z_loss;
  if (valid.defined()) {
    problem.valid = valid.reshape({G, S});
    const at::Tensor counts = problem.valid.sum(1).to(torch::kCPU);
    for (int64_t g = 0; g < G; ++g) counted[g] = counts[g].item<int64_t>();
    const at::Tensor valid_f = valid.reshape({T}).to(lse_sq.scalar_type());
    z_loss = (lse_sq * valid_f).sum() / valid_f.sum().clamp_min(1.0);
  } else {
    z_loss = lse_sq.mean();
  }
  for (int64_t g = 0; g < G; ++g) {
    // Never more slots than routable tokens: extra slots could only hold zero-weight pads.
    const int64_t c = routing::expert_capacity(cf, counted[g], E, config_.min_expert_capacity);
    problem.capacity.push_back(std::min(c, counted[g]));
    problem.max_capacity = std::max(problem.max_capacity, problem.capacity.back());
  }

  const routing::Dispatch dispatch = route_(problem);

  const int64_t M = dispatch.token_index.size(1);
  // Tokens to slots and back through one inverse index (ops/expert_dispatch.h); the gather
  // writes the buffer in the expert GEMMs' dtype.
  const ops::SlotIndex slots = ops::make_slot_index(dispatch.token_index, T);
  const at::Tensor buffer =
      ops::dispatch_tokens(tokens, slots, gemm_dtype(tokens)).view({E, M, D});  // [E, M, D]
  const at::Tensor y = expert_runner ? expert_runner(*this, buffer) : run_experts(buffer);
  const at::Tensor out = ops::combine_slots(y.reshape({E * M, D}),  // [T, D] fp32
                                            dispatch.combine_weight.reshape({E * M}), slots);
  return {out.view({B, N, D}), dispatch.aux_loss, z_loss};
}

at::Tensor MoeLayer::run_experts(const at::Tensor& buffer) {
  // [E, M, F]; each expert's bias row is added in the GELU pass.
  const at::Tensor h =
      ops::bias_gelu(at::bmm(buffer, compute_weight(intermediate_kernel)), intermediate_bias,
                     config_.exact_gelu() ? ops::GeluKind::kErf : ops::GeluKind::kTanh);
  at::Tensor y =
      at::baddbmm(output_bias.unsqueeze(1), h, compute_weight(output_kernel));  // [E, M, D]
  return at::dropout(y, config_.expert_dropout_rate, is_training());
}

}  // namespace smx::model
