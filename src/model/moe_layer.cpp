#include "smx/model/moe_layer.h"

#include <ATen/autocast_mode.h>
#include <c10/core/impl/LocalDispatchKeySet.h>
#include <torch/torch.h>

#include "smx/core/error.h"
#include "smx/model/compute_weights.h"
#include "smx/model/dropout.h"
#include "smx/model/slice.h"
#include "smx/ops/bias_gelu.h"
#include "smx/ops/cpu_matmul.h"
#include "smx/ops/expert_dispatch.h"
#include "smx/routing/capacity.h"

namespace smx::model {
namespace {

// Runs [first, end) of consecutive experts with at least one slot of nonzero combine weight.
// weight: [E, M] fp32.
std::vector<std::pair<int64_t, int64_t>> active_expert_runs(const at::Tensor& weight) {
  const at::Tensor active = weight.detach().ne(0).any(1).to(torch::kCPU).contiguous();  // [E]
  const bool* a = active.data_ptr<bool>();
  std::vector<std::pair<int64_t, int64_t>> runs;
  for (int64_t e = 0; e < active.size(0); ++e) {
    if (!a[e]) continue;
    if (!runs.empty() && runs.back().second == e)
      runs.back().second = e + 1;
    else
      runs.emplace_back(e, e + 1);
  }
  return runs;
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
  // The eval override of the minimum (docs/design.md §2.1), for tiny inputs at serving time.
  const int64_t min_capacity = !is_training() && config_.eval_min_expert_capacity >= 0
                                   ? config_.eval_min_expert_capacity
                                   : config_.min_expert_capacity;
  for (int64_t g = 0; g < G; ++g) {
    // Never more slots than routable tokens: extra slots could only hold zero-weight pads.
    const int64_t c = routing::expert_capacity(cf, counted[g], E, min_capacity);
    problem.capacity.push_back(std::min(c, counted[g]));
    problem.max_capacity = std::max(problem.max_capacity, problem.capacity.back());
  }

  const routing::Dispatch dispatch = route_(problem);

  const int64_t M = dispatch.token_index.size(1);
  at::Tensor token_index = dispatch.token_index;  // [A, M]: the experts that run
  at::Tensor weight = dispatch.combine_weight;    // [A, M]
  // Runs of consecutive experts that run, [first, end); all E unless empty ones are skipped.
  std::vector<std::pair<int64_t, int64_t>> runs{{0, E}};
  at::Tensor keep;  // [A] the experts that run, when not all of them
  if (skip_empty_experts && !is_training() && !expert_runner) {
    runs = active_expert_runs(weight);
    if (runs.size() != 1 || runs[0].second - runs[0].first != E) {
      std::vector<int64_t> kept;
      for (const auto& [first, end] : runs)
        for (int64_t e = first; e < end; ++e) kept.push_back(e);
      keep = torch::tensor(kept, token_index.options());
      token_index = token_index.index_select(0, keep);
      weight = weight.index_select(0, keep);
    }
  }
  const int64_t A = token_index.size(0);
  last_active_experts_ = A;
  if (A == 0)  // no expert has a real token: every token's sublayer output is 0 (§2.3)
    return {torch::zeros({B, N, D}, x.options().dtype(torch::kFloat)), dispatch.aux_loss, z_loss};

  // Tokens to slots and back through one inverse index (ops/expert_dispatch.h); the gather
  // writes the buffer in the expert GEMMs' dtype.
  const ops::SlotIndex slots = ops::make_slot_index(token_index, T);
  const at::Tensor buffer =
      ops::dispatch_tokens(tokens, slots, compute_dtype(tokens)).view({A, M, D});  // [A, M, D]
  // In eval (no expert dropout after the bias) the output biases ride in the combine pass
  // instead of the second expert GEMM's epilogue: a plain batched product is faster there.
  const bool bias_in_combine = !is_training() && !expert_runner;
  at::Tensor y;  // [A, M, D]
  if (expert_runner) {
    y = expert_runner(*this, buffer);
  } else if (runs.size() == 1) {
    y = run_expert_range(buffer, runs[0].first, !bias_in_combine);
  } else {  // one bmm pair per run of consecutive experts: weights are views, never copied
    std::vector<at::Tensor> parts;
    int64_t offset = 0;
    for (const auto& [first, end] : runs) {
      parts.push_back(
          run_expert_range(buffer.narrow(0, offset, end - first), first, !bias_in_combine));
      offset += end - first;
    }
    y = at::cat(parts, 0);
  }
  at::Tensor bias_rows;  // [A, D] the output biases of the experts that ran
  if (bias_in_combine) bias_rows = keep.defined() ? output_bias.index_select(0, keep) : output_bias;
  const at::Tensor out = ops::combine_slots(y.reshape({A * M, D}),  // [T, D] fp32
                                            weight.reshape({A * M}), slots, bias_rows);
  return {out.view({B, N, D}), dispatch.aux_loss, z_loss};
}

at::Tensor MoeLayer::run_experts(const at::Tensor& buffer) {
  return run_expert_range(buffer, 0);
}

at::Tensor MoeLayer::run_expert_range(const at::Tensor& buffer, int64_t first,
                                      bool with_output_bias) {
  const int64_t n = buffer.size(0);
  // Experts first .. first + n - 1 of the stacked weights (narrowed after compute_weight, so a
  // bf16 copy is made once for the whole stack, never per range).
  const auto held = [&](const at::Tensor& w) { return narrow_or_self(w, 0, first, n); };
  const at::Tensor w1 = held(compute_weight(intermediate_kernel)),  // [n, D, F]
      w2 = held(compute_weight(output_kernel));                     // [n, F, D]
  // CPU inference runs both products in oneDNN (ops/cpu_matmul.h), the second with the experts'
  // bias rows in its epilogue (fp32; bf16 leaves them to ATen's baddbmm) unless the caller adds
  // them; elsewhere bmm, and baddbmm for the second.
  at::Tensor up = ops::cpu_matmul(buffer, w1);  // [n, M, F]
  if (!up.defined()) up = at::bmm(buffer, w1);
  // Each expert's bias row is added in the GELU pass.
  const at::Tensor h = ops::bias_gelu(
      up, held(intermediate_bias),
      config_.exact_gelu() ? ops::GeluKind::kErf : ops::GeluKind::kTanh);  // [n, M, F]
  const at::Tensor b2 = with_output_bias ? held(output_bias) : at::Tensor();
  at::Tensor y = ops::cpu_matmul(h, w2, b2);  // [n, M, D]
  if (!y.defined()) y = b2.defined() ? at::baddbmm(b2.unsqueeze(1), h, w2) : at::bmm(h, w2);
  return model::dropout(y, config_.expert_dropout_rate, is_training());
}

void MoeLayer::set_eval_min_expert_capacity(int64_t capacity) {
  if (capacity < -1)
    fail("eval_min_expert_capacity is {}; use -1 (= min_expert_capacity) or a count >= 0",
         capacity);
  config_.eval_min_expert_capacity = capacity;
}

int64_t set_eval_min_expert_capacity(torch::nn::Module& module, int64_t capacity) {
  int64_t layers = 0;
  for (const auto& m : module.modules())
    if (auto* moe = dynamic_cast<MoeLayer*>(m.get())) {
      moe->set_eval_min_expert_capacity(capacity);
      ++layers;
    }
  return layers;
}

void set_skip_empty_experts(torch::nn::Module& module, bool on) {
  for (const auto& m : module.modules())
    if (auto* moe = dynamic_cast<MoeLayer*>(m.get())) moe->skip_empty_experts = on;
}

std::vector<int64_t> active_experts_per_layer(const torch::nn::Module& module) {
  std::vector<int64_t> counts;
  for (const auto& m : module.modules())
    if (const auto* moe = dynamic_cast<const MoeLayer*>(m.get()))
      counts.push_back(moe->last_active_experts());
  return counts;
}

}  // namespace smx::model
