// The router table (config/routers.h) against the routing functions and the MoE layer: every row
// has a routing function, an MoE layer built with it has the experts plus the row's router
// parameter count (the count accounting reports), produces a load-balancing loss exactly when the
// row says so, and takes num_selected_experts > 1 exactly when the row is tokens-choose.
#include <set>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "smx/accounting/accounting.h"
#include "smx/config/routers.h"
#include "smx/model/moe_layer.h"
#include "smx/routing/routers.h"
#include "support/test_util.h"

namespace smx::routing {
namespace {

int64_t numel(const torch::nn::Module& m) {
  int64_t n = 0;
  for (const auto& p : m.parameters()) n += p.numel();
  return n;
}

int64_t moe_parameters(const accounting::Report& r) {
  for (const auto& part : r.components)
    if (part.name == "moe") return part.parameters;
  return -1;
}

TEST(RoutingRegistryTest, EveryRouterBuildsAnMoeLayerWithTheRowsParameterCount) {
  ASSERT_FALSE(routers().empty());
  std::set<std::string> names;
  for (const RouterInfo& info : routers()) {
    EXPECT_TRUE(names.insert(info.name).second) << info.name << " twice";
    EXPECT_EQ(find_router(info.name), &info);
    ASSERT_NE(find_router_factory(info.name), nullptr)
        << info.name << " has no routing function in src/routing/routers.cpp";
    ModelConfig c = smx::testing::tiny_config("linear", Padding::kReference);
    c.dispatch_algorithm = info.name;
    c.num_selected_experts = info.tokens_choose ? 2 : 1;
    c.validate();
    torch::manual_seed(5);
    model::MoeLayer moe(c);
    const int64_t E = c.num_experts, D = c.d_model, F = c.expert_d_ff;
    const int64_t experts = E * (D * F + F + F * D + D);
    std::printf("    %-22s router %ld parameters (formula %ld), layer %ld\n", info.name.c_str(),
                numel(*moe.router), info.parameters(c), numel(moe));
    EXPECT_EQ(numel(*moe.router), info.parameters(c)) << info.name;
    EXPECT_EQ(numel(moe), experts + info.parameters(c)) << info.name;
    EXPECT_EQ(numel(moe) * c.num_moe_layers, moe_parameters(accounting::account(c))) << info.name;
    EXPECT_GT(info.flops(c, 16.0), 0) << info.name;

    moe.train();
    const model::MoeOutput out = moe.forward(torch::randn({2, 16, D}), {});
    const float aux = out.aux_loss.item<float>();
    std::printf("    %-22s aux loss %.4f\n", info.name.c_str(), aux);
    if (info.aux_loss) {
      EXPECT_GT(aux, 0.0f) << info.name;
    } else {
      EXPECT_EQ(aux, 0.0f) << info.name;
    }
    EXPECT_TRUE(out.output.isfinite().all().item<bool>()) << info.name;

    // k > 1 is a tokens-choose knob; experts-choose rejects it.
    ModelConfig k2 = c;
    k2.num_selected_experts = 2;
    if (info.tokens_choose) {
      EXPECT_NO_THROW(k2.validate()) << info.name;
    } else {
      smx::testing::expect_error([&] { k2.validate(); }, "only applies to tokens-choose");
    }
  }
}

TEST(RoutingRegistryTest, UnknownNamesFailNamingTheChoices) {
  EXPECT_EQ(find_router("TOP2"), nullptr);
  EXPECT_EQ(find_router_factory("TOP2"), nullptr);
  ModelConfig c = smx::testing::tiny_config();
  c.dispatch_algorithm = "TOP2";
  smx::testing::expect_error(
      [&] { c.validate(); },
      "dispatch_algorithm 'TOP2' is unknown; use one of MASK_EXPERTS_CHOOSE");
}

}  // namespace
}  // namespace smx::routing
