// The mixing kinds (docs/design.md §1.4) as one table, one row per kind: the model_arch that
// selects it, the layer name accounting prints, whether use_fft applies, and its parameter and FLOP
// formulas (docs/design.md §6.1-6.2). The modules' factories sit beside the modules
// (src/model/mixing.cpp); tests check that every row has one and that the built module has the
// row's parameter count. Adding a kind: docs/design.md §8.5.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace smx {

struct ModelConfig;

struct MixingKindInfo {
  std::string arch;        // model_arch value whose non-attention layers use it ("linear")
  std::string layer_name;  // the sublayer's name in accounting and `smx info` ("linear")
  bool fft = false;        // use_fft = true applies (the module has an FFT path)
  // Parameters of one layer's mixing sublayer.
  int64_t (*parameters)(const ModelConfig& config) = nullptr;
  // Forward FLOPs of one layer's mixing sublayer, per example of `seq_len` tokens.
  double (*flops)(const ModelConfig& config, double seq_len) = nullptr;
};

// Every kind, attention first (the row of model_arch "bert", also used by the attention layers of
// every other architecture).
const std::vector<MixingKindInfo>& mixing_kinds();
const MixingKindInfo& attention_mixing();
// The row of model_arch `arch`, or nullptr.
const MixingKindInfo* find_mixing_kind(const std::string& arch);
// "bert, linear, ...": the known model_arch values, for messages.
std::string mixing_arch_names();

}  // namespace smx
