// Parameter and FLOP accounting for any ModelConfig, computed from the config alone (docs/design.md
// §6.1-6.2): the mixing and router terms come from their rows' formulas (docs/design.md §8.5).
// Tests check the parameter counts against the built modules and pin the presets' totals.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "smx/config/model_config.h"

namespace smx::accounting {

struct Component {
  std::string name;
  int64_t parameters = 0;
  double gflops = 0;         // forward GFLOPs per example at max_seq_len (useful work)
  double einsum_gflops = 0;  // what the reference's one-hot einsum dispatch adds (MoE only)
};

struct Report {
  std::vector<Component> components;  // embeddings, mixing kinds, MLPs, MoE, LayerNorms, pooler
  Component heads;                    // MLM + NSP pre-training heads
  int64_t encoder_parameters = 0;     // everything but the heads
  int64_t total_parameters = 0;       // encoder + heads
  int64_t active_parameters = 0;  // encoder parameters one token uses (one expert per MoE layer)
  double encoder_gflops = 0;
  double total_gflops = 0;  // encoder + heads
  double einsum_gflops = 0;
  int64_t tokens_per_group = 0;  // routing group size S used for capacity
  int64_t expert_capacity = 0;   // C at eval capacity factor for that group
  int64_t mlm_predictions = 0;   // P: masked positions the MLM head scores per example
};

// `seq_len` defaults to config.max_seq_len; MoE groups assume full groups of max_group_size tokens.
Report account(const ModelConfig& config, int64_t seq_len = 0);

// MLM predictions per example at sequence length N: 80 at 512, scaled linearly, at least 1.
int64_t max_predictions_for(int64_t seq_len);

// The mixing sublayer of layer `layer` as its config/mixing_kinds.h row names it: "attention",
// "linear", "fourier", ...
std::string mixing_name(const ModelConfig& config, int64_t layer);

}  // namespace smx::accounting
