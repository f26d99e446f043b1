#include <fstream>
#include <sstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "smx/tasks/submission.h"
#include "smx/tasks/task_reader.h"
#include "tasks/task_test_util.h"

namespace smx::tasks {
namespace {

using testing::expect_error;
using testing::glue_samples;
using testing::ScratchDir;
using testing::superglue_samples;
using Outputs = std::vector<std::vector<float>>;

TEST(TaskSubmissionTest, GlueTsvWithLabelStrings) {
  const TaskSpec& mnli = find_task("mnli-mm");
  const auto ex = read_split(mnli, glue_samples(), Split::kTest);
  EXPECT_EQ(format_submission(mnli, ex, {{0.1f, 0.2f, 0.9f}, {0.9f, 0.0f, 0.0f}}),
            "index\tprediction\n0\tcontradiction\n1\tentailment\n");
  const TaskSpec& cola = find_task("cola");
  const auto cola_ex = read_split(cola, glue_samples(), Split::kTest);
  EXPECT_EQ(format_submission(cola, cola_ex, {{1.f, 0.f}, {0.f, 1.f}, {0.f, 1.f}}),
            "index\tprediction\n0\t0\n1\t1\n2\t1\n");
}

TEST(TaskSubmissionTest, StsbScoresAreClippedToTheScale) {
  const TaskSpec& stsb = find_task("sts-b");
  const auto ex = read_split(stsb, glue_samples(), Split::kTest);
  EXPECT_EQ(format_submission(stsb, ex, {{5.7f}, {-0.2f}, {3.14159f}}),
            "index\tprediction\n0\t5.000\n1\t0.000\n2\t3.142\n");
}

TEST(TaskSubmissionTest, SuperGlueJsonl) {
  const TaskSpec& cb = find_task("cb");
  const auto cb_ex = read_split(cb, superglue_samples(), Split::kTest);
  EXPECT_EQ(format_submission(cb, cb_ex, {{0.f, 0.f, 1.f}, {1.f, 0.f, 0.f}}),
            "{\"idx\":0,\"label\":\"neutral\"}\n{\"idx\":1,\"label\":\"entailment\"}\n");
  const TaskSpec& wic = find_task("wic");
  const auto wic_ex = read_split(wic, superglue_samples(), Split::kTest);
  EXPECT_EQ(format_submission(wic, wic_ex, {{0.f, 1.f}, {1.f, 0.f}}),
            "{\"idx\":0,\"label\":\"true\"}\n{\"idx\":1,\"label\":\"false\"}\n");
}

TEST(TaskSubmissionTest, CopaWritesTheChosenChoiceIndex) {
  const TaskSpec& copa = find_task("copa");
  const auto ex = read_split(copa, superglue_samples(), Split::kTest);
  EXPECT_EQ(format_submission(copa, ex, {{0.2f}, {0.7f}, {0.9f}, {0.1f}}),
            "{\"idx\":0,\"label\":1}\n{\"idx\":1,\"label\":0}\n");
}

TEST(TaskSubmissionTest, RecordWritesTheBestEntityPerQuery) {
  const TaskSpec& record = find_task("record");
  const auto ex = read_split(record, superglue_samples(), Split::kTest);
  Outputs out(ex.size(), std::vector<float>{0.f});
  for (size_t i = 0; i < ex.size(); ++i)
    if (ex[i].answer_text == "Benazir Bhutto") out[i][0] = 1.f;
  EXPECT_EQ(format_submission(record, ex, out), "{\"idx\":19617,\"label\":\"Benazir Bhutto\"}\n");
}

TEST(TaskSubmissionTest, MultircNestedFormat) {
  const TaskSpec& multirc = find_task("multirc");
  const auto ex = read_split(multirc, superglue_samples(), Split::kTest);
  ASSERT_EQ(ex.size(), 5u);
  const Outputs out = {{0.f, 1.f}, {1.f, 0.f}, {0.f, 1.f}, {1.f, 0.f}, {0.f, 1.f}};
  EXPECT_EQ(format_submission(multirc, ex, out),
            "{\"idx\":0,\"passage\":{\"questions\":["
            "{\"idx\":0,\"answers\":[{\"idx\":0,\"label\":1},{\"idx\":1,\"label\":0}]},"
            "{\"idx\":1,\"answers\":[{\"idx\":2,\"label\":1},{\"idx\":3,\"label\":0},"
            "{\"idx\":4,\"label\":1}]}]}}\n");
}

TEST(TaskSubmissionTest, WritesTheFileAndReportsErrors) {
  ScratchDir dir;
  const TaskSpec& rte = find_task("superglue-rte");
  const auto ex = read_split(rte, superglue_samples(), Split::kTest);
  const Outputs out = {{1.f, 0.f}, {0.f, 1.f}};
  const std::string path = dir.root() + "/" + rte.submission_file;
  write_submission(rte, ex, out, path);
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_EQ(text.str(),
            "{\"idx\":0,\"label\":\"entailment\"}\n{\"idx\":1,\"label\":\"not_entailment\"}\n");
  expect_error([&] { write_submission(rte, ex, out, dir.root() + "/missing/RTE.jsonl"); },
               {"missing/RTE.jsonl", "cannot open"});
  expect_error([&] { format_submission(rte, ex, {{1.f, 0.f}}); }, {"1 outputs for 2 examples"});
}

}  // namespace
}  // namespace smx::tasks
