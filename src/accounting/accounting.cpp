#include "smx/accounting/accounting.h"

#include <cmath>
#include <map>

#include "smx/routing/capacity.h"

namespace smx::accounting {
namespace {

double gflop(double flops) {
  return flops / 1e9;
}

}  // namespace

int64_t max_predictions_for(int64_t seq_len) {
  return std::max<int64_t>(1, static_cast<int64_t>(std::llround(80.0 * seq_len / 512.0)));
}

std::string mixing_name(const ModelConfig& c, int64_t layer) {
  return c.mixing_at(layer).layer_name;
}

Report account(const ModelConfig& c, int64_t seq_len) {
  const double N = static_cast<double>(seq_len > 0 ? seq_len : c.max_seq_len);
  const int64_t V = c.vocab_size, De = c.d_emb, D = c.d_model, F = c.d_ff;
  const int64_t E = c.num_experts, Fe = c.expert_d_ff;
  Report r;
  std::map<std::string, Component> parts;
  std::vector<std::string> order;
  auto add = [&](const std::string& name, int64_t params, double flops, double einsum = 0) {
    if (!parts.count(name)) order.push_back(name);
    Component& p = parts[name];
    p.name = name;
    p.parameters += params;
    p.gflops += gflop(flops);
    p.einsum_gflops += gflop(einsum);
  };

  const int64_t projection = c.embedding_projection ? De * D + D : 0;  // hidden_mapping_in
  add("embeddings",
      V * De + c.position_table_size() * De + c.type_vocab_size * De + 2 * De + projection,
      c.embedding_projection ? 2.0 * N * De * D : 0.0);

  // Routing group: whole examples, or full groups of max_group_size tokens.
  r.tokens_per_group = c.sequence_groups() ? static_cast<int64_t>(N) : c.max_group_size;
  if (c.num_moe_layers > 0)
    r.expert_capacity = std::min(
        r.tokens_per_group, routing::expert_capacity(c.eval_capacity_factor, r.tokens_per_group, E,
                                                     c.min_expert_capacity));
  const double slots_per_token =
      static_cast<double>(E * r.expert_capacity) / static_cast<double>(r.tokens_per_group);

  for (int64_t l = 0; l < c.num_layers; ++l) {
    const MixingKindInfo& mixing = c.mixing_at(l);
    add(mixing.layer_name, mixing.parameters(c), mixing.flops(c, N));
    if (c.is_moe_layer(l)) {
      const double expert_flops = N * slots_per_token * 4.0 * D * Fe;
      const RouterInfo& router = c.router();
      // Reference dispatch + combine einsums: 2·E·C·D FLOPs per token each.
      const double einsum = N * 4.0 * static_cast<double>(E * r.expert_capacity) * D;
      add("moe", E * (D * Fe + Fe + Fe * D + D) + router.parameters(c),
          expert_flops + router.flops(c, N), einsum);
    } else {
      add("mlp", D * F + F + F * D + D, 4.0 * N * D * F);
    }
    add("layer_norms", 4 * D, 0);
  }
  add("pooler", D * D + D, 2.0 * D * D);

  for (const auto& name : order) {
    const Component& p = parts[name];
    r.components.push_back(p);
    r.encoder_parameters += p.parameters;
    r.encoder_gflops += p.gflops;
    r.einsum_gflops += p.einsum_gflops;
  }
  r.mlm_predictions = max_predictions_for(static_cast<int64_t>(N));
  const double P = static_cast<double>(r.mlm_predictions);
  r.heads.name = "heads (MLM + NSP)";
  r.heads.parameters = D * De + De + 2 * De + V + 2 * D + 2;
  r.heads.gflops = gflop(2.0 * P * D * De + 2.0 * P * De * V + 4.0 * D);
  r.total_parameters = r.encoder_parameters + r.heads.parameters;
  r.total_gflops = r.encoder_gflops + r.heads.gflops;
  // One expert per MoE layer is active for a token.
  r.active_parameters =
      r.encoder_parameters - c.num_moe_layers * (E - 1) * (D * Fe + Fe + Fe * D + D);
  return r;
}

}  // namespace smx::accounting
