// ModelConfig: every knob of a Sparse Mixer / BERT encoder (docs/design.md §6.3 and §7).
// Loaded from JSON; unknown keys and impossible combinations are errors naming the key.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "smx/config/mixing_kinds.h"
#include "smx/config/routers.h"

namespace smx {

// Which layers get attention / MoE (docs/design.md §1.3).
enum class Layout { kBottom, kMiddle, kMixed, kTop };

// docs/design.md §7.1: `reference` pads every batch to max_seq_len and lets pads mix and compete
// for experts; `masked` zeroes pads before mixing, keeps them out of routing, and allows any padded
// length.
enum class Padding { kReference, kMasked };

struct ModelConfig {
  std::string name = "custom";
  // "bert" makes every layer attention; the others name the mixing of non-attention layers: a row
  // of config/mixing_kinds.h (mixing_arch_names() lists them).
  std::string model_arch = "linear";

  int64_t vocab_size = 32000;
  int64_t type_vocab_size = 4;
  int64_t max_seq_len = 512;  // N_max: longest input, the mixing transforms' size
  int64_t pad_id = 0;
  // Rows of the position table; 0 = max_seq_len. Larger for imported models whose table is
  // longer than the sequences smx runs (BERT: 512 positions, any shorter N_max).
  int64_t max_position_embeddings = 0;

  int64_t d_emb = 512;    // D_e: embedding width
  int64_t d_model = 512;  // D
  int64_t d_ff = 2048;    // F: dense MLP width
  int64_t num_heads = 8;
  int64_t num_layers = 14;

  // The projection D_e -> D after the embedding LayerNorm (`hidden_mapping_in`). The paper's models
  // and FNet have it; Hugging Face BERT has none (then d_emb must equal d_model).
  bool embedding_projection = true;
  // The MLP / expert / MLM-head activation: "gelu_tanh" (the tanh approximation, Hugging Face's
  // "gelu_new") or "gelu_erf" (exact, Hugging Face's "gelu").
  std::string hidden_act = "gelu_tanh";
  double layer_norm_eps = 1e-12;  // every LayerNorm's epsilon

  int64_t num_attention_layers = 4;  // ignored for bert (all layers are attention)
  Layout attention_layout = Layout::kTop;

  int64_t num_moe_layers = 4;
  Layout moe_layout = Layout::kMiddle;
  int64_t num_experts = 16;
  int64_t expert_d_ff = 2048;
  // How tokens and experts are matched: a row of config/routers.h (docs/design.md §2.3-2.4).
  std::string dispatch_algorithm = "MASK_EXPERTS_CHOOSE";
  int64_t num_selected_experts = 1;       // k, tokens-choose only
  bool batch_prioritized_routing = true;  // tokens-choose only
  double train_capacity_factor = 1.0;
  double eval_capacity_factor = 1.0;
  int64_t min_expert_capacity = 4;
  // Minimum slots per expert in eval mode; -1 = min_expert_capacity. A serving knob for tiny
  // inputs (docs/design.md §2.1): lower means fewer slots per expert, 0 lets capacity round to 0.
  int64_t eval_min_expert_capacity = -1;
  // Routing groups: 0 = one example per group ("sequence"), else at most this many tokens
  // ("tokens:N").
  int64_t max_group_size = 4096;
  double jitter_noise = 0.0;
  double auxiliary_loss_factor = 0.01;
  double router_z_loss_factor = 1e-4;

  bool use_fft =
      false;  // Fourier/Hartley/Circulant/Toeplitz through FFTs instead of dense matrices

  double dropout_rate = 0.1;         // embeddings, MLP outputs
  double mixing_dropout_rate = 0.1;  // attention probabilities
  double expert_dropout_rate = 0.1;  // expert outputs

  Padding padding = Padding::kReference;
  // masked only: batches are padded to their longest member rounded up to this (0 = unset: 8).
  int64_t pad_to_multiple = 0;
  std::string
      tokenizer;  // path of the SentencePiece model the vocab came from ("" = none recorded)

  // Derived views.
  bool is_bert() const { return model_arch == "bert"; }
  int64_t position_table_size() const {
    return max_position_embeddings > 0 ? max_position_embeddings : max_seq_len;
  }
  bool exact_gelu() const { return hidden_act == "gelu_erf"; }
  const MixingKindInfo& mixing() const;  // the non-attention mixing of this architecture
  const MixingKindInfo& mixing_at(int64_t layer) const;  // attention or mixing()
  const RouterInfo& router() const;                      // the row of dispatch_algorithm
  bool sequence_groups() const { return max_group_size == 0; }
  std::string routing_groups() const;  // "sequence" or "tokens:N"
  bool is_attention_layer(int64_t layer) const;
  bool is_moe_layer(int64_t layer) const;
  // Padded length of a batch whose longest example has `longest` tokens.
  int64_t padded_length(int64_t longest) const;
  bool tokens_choose() const { return router().tokens_choose; }

  // Throws smx::Error naming the first impossible setting.
  void validate() const;

  nlohmann::json to_json() const;
  // Strict: unknown keys and wrong types are errors; `source` names the file in messages.
  static ModelConfig from_json(const nlohmann::json& j, const std::string& source);
};

// docs/design.md §1.3: is layer `layer` of `num_layers` one of the `n` replacements under `layout`?
bool is_replacement(int64_t layer, int64_t num_layers, int64_t n, Layout layout);

std::string to_string(Layout layout);
std::string to_string(Padding padding);
Layout parse_layout(const std::string& text);
Padding parse_padding(const std::string& text);

// Loads `name_or_path`: a preset name from configs/ (e.g. "sparse-mixer-base") or a JSON file path,
// then applies `overrides` ("key=value", value parsed as JSON when it parses, else as a string).
ModelConfig load_model_config(const std::string& name_or_path,
                              const std::vector<std::string>& overrides = {});

// Where presets are looked up: $SMX_CONFIG_DIR, else the source tree's configs/ folder.
std::string config_directory();
std::vector<std::string> preset_names();

}  // namespace smx
