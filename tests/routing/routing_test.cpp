// Experts-choose and tokens-choose routing against their definitions (docs/design.md §2.3-2.4).
#include <set>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "smx/routing/experts_choose.h"
#include "smx/routing/tokens_choose.h"

namespace smx::routing {
namespace {

RoutingProblem problem_of(const at::Tensor& probs, int64_t capacity) {
  RoutingProblem p;
  p.probs = probs;
  p.capacity.assign(static_cast<size_t>(probs.size(0)), capacity);
  p.max_capacity = capacity;
  return p;
}

at::Tensor random_probs(int64_t G, int64_t S, int64_t E, uint64_t seed) {
  torch::manual_seed(seed);
  return torch::softmax(torch::randn({G, S, E}) * 2, -1);
}

TEST(ExpertsChooseTest, EachExpertTakesItsTopCTokensPerGroup) {
  const int64_t G = 3, S = 20, E = 4, C = 5;
  const at::Tensor probs = random_probs(G, S, E, 1);
  const Dispatch d = experts_choose(problem_of(probs, C));
  ASSERT_EQ(d.token_index.sizes(), (std::vector<int64_t>{E, G * C}));
  for (int64_t e = 0; e < E; ++e)
    for (int64_t g = 0; g < G; ++g) {
      // Expected: indices of the C largest probabilities of column e in group g, descending.
      const at::Tensor column = probs[g].select(1, e);
      const at::Tensor expected = std::get<1>(column.sort(true, 0, true)).narrow(0, 0, C) + g * S;
      const at::Tensor got = d.token_index[e].narrow(0, g * C, C);
      EXPECT_TRUE(torch::equal(got, expected)) << "expert " << e << " group " << g;
      EXPECT_TRUE(torch::allclose(d.combine_weight[e].narrow(0, g * C, C),
                                  column.index_select(0, expected - g * S)));
    }
}

TEST(ExpertsChooseTest, TiesGoToTheLowerIndex) {
  // Uniform probabilities: every expert must pick tokens 0..C-1 in order.
  const at::Tensor probs = torch::full({1, 8, 2}, 0.5);
  const Dispatch d = experts_choose(problem_of(probs, 3));
  EXPECT_TRUE(torch::equal(d.token_index, torch::tensor({0L, 1L, 2L, 0L, 1L, 2L}).view({2, 3})));
}

// The partial sort per row against a full stable descending sort, on scores with many ties (8
// levels), pads' -1 and every C from none to all.
TEST(ExpertsChooseTest, StableTopIndicesEqualAStableSortsFirstC) {
  torch::manual_seed(4);
  at::Tensor scores = torch::randint(0, 8, {2, 5, 300}).to(at::kFloat) / 8;
  scores.select(2, 7).fill_(-1.0);
  for (const int64_t C : {0, 1, 17, 150, 300}) {
    const at::Tensor want = std::get<1>(scores.sort(true, -1, true)).narrow(-1, 0, C);
    const at::Tensor got = stable_top_indices(scores, C);
    EXPECT_EQ(got.sizes(), want.sizes());
    EXPECT_TRUE(torch::equal(got, want)) << "C = " << C;
  }
}

TEST(ExpertsChooseTest, MaskedPadsAreNeverChosen) {
  const int64_t S = 10, E = 2;
  RoutingProblem p = problem_of(random_probs(2, S, E, 2), 4);
  p.valid = torch::ones({2, S}, torch::kBool);
  p.valid.index_put_({0, torch::indexing::Slice(3, S)}, false);  // group 0: 3 real tokens
  p.capacity = {3, 4};
  p.max_capacity = 4;
  const Dispatch d = experts_choose(p);
  ASSERT_EQ(d.token_index.size(1), 7);  // 3 + 4 slots per expert
  for (int64_t e = 0; e < E; ++e) {
    std::set<int64_t> first(d.token_index[e].data_ptr<int64_t>(),
                            d.token_index[e].data_ptr<int64_t>() + 3);
    EXPECT_EQ(first, (std::set<int64_t>{0, 1, 2})) << "expert " << e;
  }
  EXPECT_GT(d.combine_weight.min().item<float>(), 0.0f);
}

TEST(TokensChooseTest, NeverExceedsCapacityAndBprKeepsTheMostConfident) {
  const int64_t G = 2, S = 32, E = 4, C = 3;
  const at::Tensor probs = random_probs(G, S, E, 3);
  const Dispatch d = tokens_choose(problem_of(probs, C), {1, true});
  ASSERT_EQ(d.token_index.sizes(), (std::vector<int64_t>{E, G * C}));
  const auto [top_prob, top_expert] = probs.max(-1);  // [G, S]
  for (int64_t g = 0; g < G; ++g)
    for (int64_t e = 0; e < E; ++e) {
      // Tokens whose first choice is e, by descending gate: BPR keeps exactly the first C.
      std::vector<std::pair<float, int64_t>> wanting;
      for (int64_t s = 0; s < S; ++s)
        if (top_expert[g][s].item<int64_t>() == e)
          wanting.push_back({-top_prob[g][s].item<float>(), s});
      std::sort(wanting.begin(), wanting.end());
      for (int64_t c = 0; c < C; ++c) {
        const int64_t slot = g * C + c;
        const float w = d.combine_weight[e][slot].item<float>();
        if (c < static_cast<int64_t>(wanting.size())) {
          EXPECT_EQ(d.token_index[e][slot].item<int64_t>(), g * S + wanting[c].second);
          EXPECT_FLOAT_EQ(w, -wanting[c].first);
        } else {
          EXPECT_EQ(w, 0.0f) << "an empty slot must carry no weight";
        }
      }
    }
}

TEST(TokensChooseTest, WithoutBprFirstComeFirstServed) {
  // All tokens prefer expert 0; capacity 2: without BPR tokens 0 and 1 win, with BPR the two
  // most confident win.
  at::Tensor probs =
      torch::tensor({0.6f, 0.4f, 0.9f, 0.1f, 0.7f, 0.3f, 0.95f, 0.05f}).view({1, 4, 2});
  Dispatch plain = tokens_choose(problem_of(probs, 2), {1, false});
  EXPECT_EQ(plain.token_index[0][0].item<int64_t>(), 0);
  EXPECT_EQ(plain.token_index[0][1].item<int64_t>(), 1);
  Dispatch bpr = tokens_choose(problem_of(probs, 2), {1, true});
  EXPECT_EQ(bpr.token_index[0][0].item<int64_t>(), 3);
  EXPECT_EQ(bpr.token_index[0][1].item<int64_t>(), 1);
  EXPECT_EQ(bpr.combine_weight[1].sum().item<float>(), 0.0f);  // nobody chose expert 1
}

TEST(TokensChooseTest, TopTwoAssignsSecondChoicesAfterAllFirstChoices) {
  const int64_t S = 16, E = 4;
  const at::Tensor probs = random_probs(1, S, E, 4);
  const Dispatch d = tokens_choose(problem_of(probs, S), {2, true});  // ample capacity
  // Every token appears exactly twice, at its two best experts, weighted by their probabilities.
  const at::Tensor top2 = std::get<1>(probs[0].topk(2, -1));
  for (int64_t s = 0; s < S; ++s) {
    int64_t found = 0;
    for (int64_t e = 0; e < E; ++e)
      for (int64_t m = 0; m < S; ++m)
        if (d.token_index[e][m].item<int64_t>() == s && d.combine_weight[e][m].item<float>() > 0) {
          ++found;
          EXPECT_TRUE(e == top2[s][0].item<int64_t>() || e == top2[s][1].item<int64_t>());
          EXPECT_FLOAT_EQ(d.combine_weight[e][m].item<float>(), probs[0][s][e].item<float>());
        }
    EXPECT_EQ(found, 2) << "token " << s;
  }
}

TEST(TokensChooseTest, LoadBalancingLossIsOneWhenUniform) {
  // f = 1/E and P̄ = 1/E for every expert -> E² · mean(1/E²) = 1 (docs/design.md §2.5).
  const int64_t S = 8, E = 4;
  at::Tensor probs = torch::full({1, S, E}, 0.25);
  // Break ties so each expert is the top-1 of exactly two tokens, keeping P̄ uniform.
  Dispatch d = tokens_choose(problem_of(probs, S), {1, true});
  // All gates tie: every token picks expert 0, f = (1, 0, 0, 0) -> aux = E² · (1·¼)/E = 1.
  EXPECT_NEAR(d.aux_loss.item<float>(), 1.0, 1e-6);
  at::Tensor balanced = torch::full({1, S, E}, 0.1);
  for (int64_t s = 0; s < S; ++s) balanced[0][s][s % E] = 0.7;
  d = tokens_choose(problem_of(balanced, S), {1, true});
  // f = ¼ each, P̄ = (2·0.7 + 6·0.1)/8 = 0.25 each -> aux = 16 · (¼·¼) = 1.
  EXPECT_NEAR(d.aux_loss.item<float>(), 1.0, 1e-6);
  at::Tensor skewed = torch::full({1, S, E}, 0.1);
  for (int64_t s = 0; s < S; ++s) skewed[0][s][0] = 0.7;
  d = tokens_choose(problem_of(skewed, S), {1, true});
  EXPECT_NEAR(d.aux_loss.item<float>(), 16 * (1.0 * 0.7) / 4, 1e-5);  // imbalance costs more
}

}  // namespace
}  // namespace smx::routing
