#include <cmath>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "smx/tasks/metrics.h"
#include "smx/tasks/record_normalization.h"
#include "tasks/task_test_util.h"

namespace smx::tasks {
namespace {

using ::testing::ElementsAre;
using testing::expect_error;

using Ids = std::vector<int64_t>;

TEST(MetricTest, Accuracy) {
  EXPECT_DOUBLE_EQ(accuracy({1, 0, 1, 1}, {1, 1, 1, 0}), 0.5);
  expect_error([] { accuracy({1}, {1, 0}); }, {"accuracy", "1 predictions but 2 labels"});
  expect_error([] { accuracy({}, {}); }, {"no examples"});
}

TEST(MetricTest, BinaryF1) {
  // tp = 2, fp = 1, fn = 1 -> 2*2 / (4 + 1 + 1).
  EXPECT_DOUBLE_EQ(binary_f1({1, 1, 0, 0, 1}, {1, 0, 0, 1, 1}), 4.0 / 6.0);
  EXPECT_DOUBLE_EQ(binary_f1({0, 0, 0}, {1, 0, 1}), 0.0);  // no positive predictions
  EXPECT_DOUBLE_EQ(binary_f1({0, 0}, {0, 0}), 0.0);        // no positives at all (sklearn: 0)
  EXPECT_DOUBLE_EQ(binary_f1({1, 1}, {1, 1}), 1.0);
  EXPECT_DOUBLE_EQ(binary_f1({1, 1, 0, 0, 1}, {1, 0, 0, 1, 1}, 0), 0.5);  // class 0: tp1 fp1 fn1
}

TEST(MetricTest, MatthewsOfAKnownConfusionMatrix) {
  // tp = 5, tn = 3, fp = 2, fn = 1: (5*3 - 2*1) / sqrt(7 * 6 * 5 * 4).
  const Ids pred = {1, 1, 1, 1, 1, 0, 0, 0, 1, 1, 0};
  const Ids gold = {1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 1};
  EXPECT_NEAR(matthews_corrcoef(pred, gold), 13.0 / std::sqrt(840.0), 1e-12);
  EXPECT_DOUBLE_EQ(matthews_corrcoef({0, 1, 0, 1}, {0, 1, 0, 1}), 1.0);
  EXPECT_DOUBLE_EQ(matthews_corrcoef({1, 0, 1, 0}, {0, 1, 0, 1}), -1.0);
}

TEST(MetricTest, MatthewsIsZeroWhenUndefined) {
  EXPECT_DOUBLE_EQ(matthews_corrcoef({1, 1, 1, 1}, {0, 1, 0, 1}), 0.0);  // constant predictor
  EXPECT_DOUBLE_EQ(matthews_corrcoef({0, 1, 0, 1}, {1, 1, 1, 1}), 0.0);  // constant labels
}

TEST(MetricTest, MatthewsMulticlassFollowsSklearn) {
  // sklearn's covariance form; hand-computed: (6*9 - 29) / sqrt((81 - 29) * (81 - 29)) = 25/52.
  EXPECT_NEAR(matthews_corrcoef({0, 1, 0, 1, 2, 2, 2, 0, 2}, {0, 0, 0, 1, 1, 2, 2, 2, 2}),
              25.0 / 52.0, 1e-12);
}

TEST(MetricTest, MacroF1CountsEveryClass) {
  // Per class F1: 2/3, 1/2, 3/4.
  EXPECT_NEAR(macro_f1({0, 1, 0, 1, 2, 2, 2, 0, 2}, {0, 0, 0, 1, 1, 2, 2, 2, 2}, 3),
              (2.0 / 3 + 0.5 + 0.75) / 3, 1e-12);
  // Class 2 absent from both: counted as F1 0 (CB scorer), not skipped.
  EXPECT_DOUBLE_EQ(macro_f1({0, 1}, {0, 1}, 3), 2.0 / 3.0);
}

TEST(MetricTest, PearsonAndSpearman) {
  EXPECT_NEAR(pearson_corrcoef({1, 2, 3, 4}, {2, 4, 6, 8}), 1.0, 1e-12);
  EXPECT_NEAR(pearson_corrcoef({1, 2, 3, 4}, {1, 3, 2, 4}), 0.8, 1e-12);
  EXPECT_NEAR(pearson_corrcoef({1, 2, 3, 4}, {4, 3, 2, 1}), -1.0, 1e-12);
  // Monotone but not linear: Spearman 1, Pearson below.
  EXPECT_NEAR(spearman_corrcoef({1, 2, 3, 4}, {1, 10, 100, 1000}), 1.0, 1e-12);
  EXPECT_LT(pearson_corrcoef({1, 2, 3, 4}, {1, 10, 100, 1000}), 0.99);
}

TEST(MetricTest, SpearmanAveragesTiedRanks) {
  EXPECT_THAT(average_ranks({10, 20, 20, 30, 20}), ElementsAre(1, 3, 3, 5, 3));
  EXPECT_THAT(average_ranks({1, 2, 2, 3}), ElementsAre(1, 2.5, 2.5, 4));
  // Ranks x = 1, 2.5, 2.5, 4 against y = 1, 3, 2, 4 (scipy.stats.spearmanr: 0.9486832980505138).
  EXPECT_NEAR(spearman_corrcoef({1, 2, 2, 3}, {1, 3, 2, 4}), 0.9486832980505138, 1e-12);
  EXPECT_NEAR(spearman_corrcoef({0.1, 0.5, 0.5, 0.9, 0.2}, {1, 2, 3, 4, 5}), 0.35909242322980395,
              1e-12);
}

TEST(MetricTest, ConstantInputCorrelationIsZero) {
  // scipy returns nan here; we return 0 (documented in metrics.h).
  EXPECT_EQ(pearson_corrcoef({2, 2, 2}, {1, 2, 3}), 0.0);
  EXPECT_EQ(spearman_corrcoef({1, 2, 3}, {5, 5, 5}), 0.0);
}

TEST(MetricTest, ArgmaxTakesTheFirstOnTies) {
  EXPECT_EQ(argmax({0.1f, 0.7f, 0.7f}), 1);
  EXPECT_EQ(argmax({-1.0f}), 0);
  expect_error([] { argmax({}); }, {"empty"});
}

TEST(MetricRecordTest, NormalizationAsTheOfficialScript) {
  EXPECT_EQ(normalize_answer("The Eiffel  Tower!"), "eiffel tower");
  EXPECT_EQ(answer_exact_match("The Eiffel  Tower!", "eiffel tower"), 1.0);
  EXPECT_EQ(normalize_answer("  A tale of an apple, the end. "), "tale of apple end");
  EXPECT_EQ(normalize_answer("Theater anthem"), "theater anthem");  // whole words only
  EXPECT_EQ(normalize_answer("Bhutto-Zardari"), "bhuttozardari");   // punctuation is dropped
  EXPECT_EQ(normalize_answer("the"), "");
  EXPECT_EQ(normalize_answer("Caf\xC3\xA9 the"), "caf\xC3\xA9");
}

TEST(MetricRecordTest, TokenF1AndMaxOverGold) {
  EXPECT_NEAR(answer_token_f1("Benazir Bhutto", "Bhutto"), 2.0 / 3.0, 1e-12);  // p 1/2, r 1
  EXPECT_EQ(answer_token_f1("Pakistan", "Bhutto"), 0.0);
  EXPECT_NEAR(answer_token_f1("cat cat", "the cat"), 2.0 / 3.0, 1e-12);  // overlap counts once
  EXPECT_EQ(answer_token_f1("The", "a"), 0.0);                           // both normalise to ""
  EXPECT_EQ(max_token_f1("Bhutto", {"Benazir Bhutto", "Bhutto"}), 1.0);
  EXPECT_EQ(max_exact_match("Benazir", {"Benazir Bhutto", "Bhutto"}), 0.0);
  EXPECT_EQ(max_exact_match("the Bhutto.", {"Benazir Bhutto", "Bhutto"}), 1.0);
  EXPECT_EQ(max_token_f1("x", {}), 0.0);
}

}  // namespace
}  // namespace smx::tasks
