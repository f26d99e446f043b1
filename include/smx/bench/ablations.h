// The configs behind `smx bench --ablation KIND`: the speed columns of the paper's ablation
// tables, each built by overriding a base preset with smx::load_model_config(name, overrides).
//   mixing   Table 1: every layer one mixing kind at BERT-Base size (bert, linear, f_net, ...)
//   hybrid   Table 2: Linear-n and Hartley-n, n TOP attention layers, BERT-Base size
//   experts  Table 14: 8/16/32/64 experts, 6 MIXED MoE layers on the Linear-4 BERT-Base model
//   capacity Table 8: Sparse Mixer Base at capacity factors 2, 1 (SM), 0.5 (FSM), 0.25
//   layout   Table 5: MoE layer count and layout on the Linear-4 BERT-Base model
//   padding  docs/design.md §7.1: 128-token examples padded to 512 (reference) vs masked at N = 128
//   fused    BERT-Base and SM Base with the plain ATen ops vs smx's fused kernels (ops/)
//   bf16     BERT-Base and SM Base under plain bf16 autocast vs bf16 end to end (weight copies
//            written by AdamW, bf16 activations; model/compute_weights.h); needs --dtype bf16
#pragma once

#include <string>
#include <vector>

#include "smx/bench/runner.h"

namespace smx::bench {

std::vector<std::string> ablation_kinds();
// Cases of one ablation; the first row is what the ratios are taken against.
std::vector<BenchCase> ablation_cases(const std::string& kind);
// The title line of that ablation's table.
std::string ablation_title(const std::string& kind);

}  // namespace smx::bench
