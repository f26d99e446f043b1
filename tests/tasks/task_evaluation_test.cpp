#include <cmath>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "smx/tasks/task_evaluation.h"
#include "smx/tasks/task_reader.h"
#include "tasks/task_test_util.h"

namespace smx::tasks {
namespace {

using testing::expect_error;
using testing::superglue_samples;
using Outputs = std::vector<std::vector<float>>;

std::vector<TaskExample> labelled(const std::vector<float>& labels) {
  std::vector<TaskExample> out;
  for (size_t i = 0; i < labels.size(); ++i) {
    TaskExample e;
    e.segments = {"s"};
    e.label = labels[i];
    e.id = std::to_string(i);
    out.push_back(e);
  }
  return out;
}

// Two-class logits that predict `classes`.
Outputs logits_for(const std::vector<int>& classes, int num_classes = 2) {
  Outputs out;
  for (const int c : classes) {
    std::vector<float> row(static_cast<size_t>(num_classes), -1.0f);
    row[static_cast<size_t>(c)] = 1.0f;
    out.push_back(row);
  }
  return out;
}

TEST(TaskEvaluationTest, ClassificationMetrics) {
  const auto ex = labelled({1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 1});
  const Outputs out = logits_for({1, 1, 1, 1, 1, 0, 0, 0, 1, 1, 0});
  const TaskMetrics cola = evaluate(find_task("cola"), ex, out);
  ASSERT_EQ(cola.size(), 2u);
  EXPECT_NEAR(cola.at("mcc"), 13.0 / std::sqrt(840.0), 1e-12);
  EXPECT_NEAR(cola.at("accuracy"), 8.0 / 11.0, 1e-12);
  const TaskMetrics mrpc = evaluate(find_task("mrpc"), ex, out);
  EXPECT_NEAR(mrpc.at("f1"), 10.0 / 13.0, 1e-12);  // tp 5, fp 2, fn 1
  EXPECT_EQ(evaluate(find_task("sst-2"), ex, out).size(), 1u);
}

TEST(TaskEvaluationTest, CbReportsAccuracyAndMacroF1) {
  const auto ex = labelled({0, 0, 0, 1, 1, 2, 2, 2, 2});
  const TaskMetrics m = evaluate(find_task("cb"), ex, logits_for({0, 1, 0, 1, 2, 2, 2, 0, 2}, 3));
  EXPECT_NEAR(m.at("accuracy"), 6.0 / 9.0, 1e-12);
  EXPECT_NEAR(m.at("macro_f1"), (2.0 / 3 + 0.5 + 0.75) / 3, 1e-12);
}

TEST(TaskEvaluationTest, RegressionCorrelations) {
  const auto ex = labelled({1, 2, 3, 4});
  const TaskMetrics m = evaluate(find_task("sts-b"), ex, {{1.f}, {3.f}, {2.f}, {4.f}});
  EXPECT_NEAR(m.at("pearson"), 0.8, 1e-6);
  EXPECT_NEAR(m.at("spearman"), 0.8, 1e-6);
}

TEST(TaskEvaluationTest, CopaTakesTheArgmaxPerQuestion) {
  const auto ex = read_split(find_task("copa"), superglue_samples(), Split::kDev);
  // Correct choices: 2, 2, 1. Pick 2 (right), 1 (wrong), 1 (right).
  const TaskMetrics m =
      evaluate(find_task("copa"), ex, {{0.1f}, {0.9f}, {0.8f}, {0.2f}, {0.5f}, {0.5f}});
  EXPECT_NEAR(m.at("accuracy"), 2.0 / 3.0, 1e-12);  // the tie goes to the first choice
}

TEST(TaskEvaluationTest, RecordScoresTheArgmaxEntityAgainstTheGoldAnswers) {
  const auto ex = read_split(find_task("record"), superglue_samples(), Split::kDev);
  Outputs out(ex.size(), std::vector<float>{0.0f});
  for (size_t i = 0; i < ex.size(); ++i) {
    if (ex[i].answer_text == "Bhutto") out[i][0] = 2.0f;      // query 1: right
    if (ex[i].answer_text == "Australian") out[i][0] = 2.0f;  // query 2: wrong
  }
  TaskMetrics m = evaluate(find_task("record"), ex, out);
  EXPECT_NEAR(m.at("f1"), 0.5, 1e-12);
  EXPECT_NEAR(m.at("exact_match"), 0.5, 1e-12);
  // Any gold answer counts: "Benazir Bhutto" and the "Luxemburg" spelling are both right.
  for (size_t i = 0; i < ex.size(); ++i)
    out[i][0] =
        ex[i].answer_text == "Benazir Bhutto" || ex[i].answer_text == "Luxemburg" ? 1.f : 0.f;
  m = evaluate(find_task("record"), ex, out);
  EXPECT_NEAR(m.at("f1"), 1.0, 1e-12);
  EXPECT_NEAR(m.at("exact_match"), 1.0, 1e-12);
}

TEST(TaskEvaluationTest, MultircF1aAndExactMatchPerQuestion) {
  const auto ex = read_split(find_task("multirc"), superglue_samples(), Split::kDev);
  // Gold: q0 = 1 0; q1 = 1 0 1; q2 = 0 1 1 0 1.
  // Predict q0 right, q1 with one miss, q2 right.
  const Outputs out = logits_for({1, 0, 1, 0, 0, 0, 1, 1, 0, 1});
  const TaskMetrics m = evaluate(find_task("multirc"), ex, out);
  EXPECT_NEAR(m.at("exact_match"), 2.0 / 3.0, 1e-12);
  EXPECT_NEAR(m.at("f1a"), 2.0 * 5 / (2.0 * 5 + 0 + 1), 1e-12);  // tp 5, fp 0, fn 1
}

TEST(TaskEvaluationTest, RejectsTestSplitsAndMismatchedOutputs) {
  auto ex = labelled({1, 0});
  expect_error([&] { evaluate(find_task("sst-2"), ex, logits_for({1})); },
               {"1 outputs for 2 examples"});
  expect_error(
      [&] {
        evaluate(find_task("sst-2"), ex, logits_for({1, 0}, 3));
      },
      {"output 0 has 3 values", "has 2"});
  ex[1].has_label = false;
  expect_error(
      [&] {
        evaluate(find_task("sst-2"), ex, logits_for({1, 0}));
      },
      {"example 1", "has no label", "not test"});
}

TEST(TaskEvaluationTest, GlueAverageFollowsTheGlueConvention) {
  const std::map<std::string, TaskMetrics> results = {
      {"cola", {{"mcc", 0.5}, {"accuracy", 0.8}}},       // 0.5 (MCC only)
      {"MRPC", {{"f1", 0.9}, {"accuracy", 0.8}}},        // 0.85
      {"sts-b", {{"pearson", 0.8}, {"spearman", 0.6}}},  // 0.7
      {"mnli-m", {{"accuracy", 0.8}}},                   // MNLI: (0.8 + 0.6) / 2
      {"mnli-mm", {{"accuracy", 0.6}}},
      {"boolq", {{"accuracy", 0.1}}},  // SuperGLUE: ignored
  };
  EXPECT_NEAR(glue_average(results), (0.5 + 0.85 + 0.7 + 0.7) / 4, 1e-12);
  EXPECT_NEAR(task_score(find_task("mrpc"), results.at("MRPC")), 0.85, 1e-12);
}

TEST(TaskEvaluationTest, SuperGlueAverage) {
  const std::map<std::string, TaskMetrics> results = {
      {"cb", {{"accuracy", 0.8}, {"macro_f1", 0.6}}},     // 0.7
      {"multirc", {{"f1a", 0.7}, {"exact_match", 0.3}}},  // 0.5
      {"record", {{"f1", 0.9}, {"exact_match", 0.8}}},    // 0.85
      {"superglue-rte", {{"accuracy", 0.6}}},
      {"boolq", {{"accuracy", 0.75}}},
      {"rte", {{"accuracy", 0.0}}},  // GLUE RTE: ignored
  };
  EXPECT_NEAR(superglue_average(results), (0.7 + 0.5 + 0.85 + 0.6 + 0.75) / 5, 1e-12);
}

TEST(TaskEvaluationTest, AverageErrors) {
  expect_error([] { glue_average({{"boolq", {{"accuracy", 1.0}}}}); }, {"no GLUE task"});
  expect_error(
      [] {
        glue_average({{"mrpc", {{"accuracy", 1.0}}}});
      },
      {"MRPC results lack metric 'f1'"});
  expect_error([] { superglue_average({{"squad", {{"f1", 1.0}}}}); }, {"unknown task 'squad'"});
}

}  // namespace
}  // namespace smx::tasks
