#include "smx/bench/ablations.h"

#include <fmt/format.h>

#include "smx/core/error.h"

namespace smx::bench {
namespace {

BenchCase make_case(const std::string& label, const std::string& preset,
                    std::vector<std::string> overrides, int64_t seq_len = 0,
                    int64_t real_length = 0) {
  overrides.push_back("name=\"" + label + "\"");
  return {label, load_model_config(preset, overrides), seq_len, real_length};
}

// The paper's MoE ablation base (§4.3): Linear-4 at BERT-Base shape, 12 layers, D 768, F 3072.
std::vector<std::string> linear4_moe(int64_t moe_layers, const std::string& layout,
                                     int64_t experts) {
  return {"model_arch=linear",
          "num_attention_layers=4",
          "num_moe_layers=" + std::to_string(moe_layers),
          "moe_layout=" + layout,
          "num_experts=" + std::to_string(experts),
          "expert_d_ff=3072"};
}

}  // namespace

std::vector<std::string> ablation_kinds() {
  return {"mixing", "hybrid", "experts", "capacity", "layout", "padding", "fused", "bf16"};
}

std::string ablation_title(const std::string& kind) {
  if (kind == "mixing") return "Table 1 (speed): mixing mechanisms at BERT-Base size";
  if (kind == "hybrid") return "Table 2 (speed): hybrid mixing-attention, n TOP attention layers";
  if (kind == "experts") return "Table 14 (speed): number of experts (6 MIXED MoE layers, cf 1)";
  if (kind == "capacity") return "Table 8 variants: Sparse Mixer Base by capacity factor";
  if (kind == "layout") return "Table 5 (speed): MoE layer count and layout";
  if (kind == "padding") return "Padding: 128-token examples, padded to 512 vs masked at 128";
  if (kind == "fused") return "Fused kernels: smx's CPU kernels vs the plain ATen ops they replace";
  if (kind == "bf16")
    return "bf16 end to end (weight copies written by AdamW, bf16 activations) vs plain autocast "
           "(with --dtype bf16)";
  fail(
      "--ablation: unknown kind '{}'; use one of mixing, hybrid, experts, capacity, layout, "
      "padding, fused, bf16",
      kind);
}

std::vector<BenchCase> ablation_cases(const std::string& kind) {
  ablation_title(kind);  // validates the name
  std::vector<BenchCase> cases;
  if (kind == "mixing") {
    cases.push_back(make_case("bert", "bert-base", {}));
    cases.push_back(
        make_case("linear", "bert-base", {"model_arch=linear", "num_attention_layers=0"}));
    cases.push_back(make_case("f_net (fft)", "bert-base",
                              {"model_arch=f_net", "num_attention_layers=0", "use_fft=true"}));
    cases.push_back(make_case("h_net (fft)", "bert-base",
                              {"model_arch=h_net", "num_attention_layers=0", "use_fft=true"}));
    cases.push_back(
        make_case("c_net", "bert-base", {"model_arch=c_net", "num_attention_layers=0"}));
    cases.push_back(
        make_case("t_net", "bert-base", {"model_arch=t_net", "num_attention_layers=0"}));
  } else if (kind == "hybrid") {
    cases.push_back(make_case("bert", "bert-base", {}));
    for (const char* arch : {"linear", "h_net"})
      for (int n : {0, 1, 2, 3, 4, 6}) {
        std::vector<std::string> o = {std::string("model_arch=") + arch,
                                      "num_attention_layers=" + std::to_string(n)};
        if (std::string(arch) == "h_net") o.push_back("use_fft=true");
        cases.push_back(
            make_case(fmt::format("{}-{}", arch == std::string("linear") ? "Linear" : "Hartley", n),
                      "bert-base", o));
      }
  } else if (kind == "experts") {
    cases.push_back(make_case("bert", "bert-base", {}));
    for (int e : {8, 16, 32, 64})
      cases.push_back(
          make_case(fmt::format("{} experts", e), "bert-base", linear4_moe(6, "MIXED", e)));
  } else if (kind == "capacity") {
    cases.push_back(make_case("bert", "bert-base", {}));
    for (const char* cf : {"2.0", "1.0", "0.5", "0.25"})
      cases.push_back(make_case(
          fmt::format("SM cf {}", cf), "sparse-mixer-base",
          {std::string("train_capacity_factor=") + cf, std::string("eval_capacity_factor=") + cf}));
  } else if (kind == "layout") {
    cases.push_back(make_case("bert", "bert-base", {}));
    for (int n : {2, 4, 6, 12})
      cases.push_back(
          make_case(fmt::format("{}-MIXED", n), "bert-base", linear4_moe(n, "MIXED", 16)));
    for (const char* layout : {"BOTTOM", "MIDDLE", "TOP"})
      cases.push_back(
          make_case(fmt::format("6-{}", layout), "bert-base", linear4_moe(6, layout, 16)));
  } else if (kind == "fused") {
    for (const char* preset : {"bert-base", "sparse-mixer-base"}) {
      BenchCase aten = make_case(fmt::format("{} ATen ops", preset), preset, {});
      aten.fused = false;
      cases.push_back(aten);
      cases.push_back(make_case(fmt::format("{} fused", preset), preset, {}));
    }
  } else if (kind == "bf16") {
    for (const char* preset : {"bert-base", "sparse-mixer-base"}) {
      BenchCase autocast = make_case(fmt::format("{} autocast", preset), preset, {});
      autocast.bf16_end_to_end = false;
      cases.push_back(autocast);
      cases.push_back(make_case(fmt::format("{} bf16 e2e", preset), preset, {}));
    }
  } else {  // padding
    cases.push_back(make_case("SM padded to 512", "sparse-mixer-base", {}, 512, 128));
    cases.push_back(make_case("SM masked at 128", "sparse-mixer-base", {"padding=masked"}, 128));
    cases.push_back(make_case("BERT padded to 512", "bert-base", {}, 512, 128));
    cases.push_back(make_case("BERT masked at 128", "bert-base", {"padding=masked"}, 128));
  }
  return cases;
}

}  // namespace smx::bench
