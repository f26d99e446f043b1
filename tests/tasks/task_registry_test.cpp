#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "smx/tasks/task_registry.h"
#include "tasks/task_test_util.h"

namespace smx::tasks {
namespace {

using ::testing::ElementsAre;
using testing::expect_error;

TEST(TaskRegistryTest, EveryPaperTaskIsRegistered) {
  for (const char* name :
       {"cola", "sst-2", "mrpc", "qqp", "sts-b", "mnli-m", "mnli-mm", "qnli", "rte", "wnli",
        "boolq", "cb", "copa", "multirc", "record", "superglue-rte", "wic"})
    EXPECT_EQ(find_task(name).name, name);
  EXPECT_EQ(task_names().size(), all_tasks().size());
}

TEST(TaskRegistryTest, LookupIgnoresCaseDashesAndKnowsAliases) {
  EXPECT_EQ(find_task("SST-2").name, "sst-2");
  EXPECT_EQ(find_task("sst2").name, "sst-2");
  EXPECT_EQ(find_task("Sst_2").name, "sst-2");
  EXPECT_EQ(find_task("STSB").name, "sts-b");
  EXPECT_EQ(find_task("mnli").name, "mnli-m");
  EXPECT_EQ(find_task("MNLI-mm").name, "mnli-mm");
  EXPECT_EQ(find_task("mnli_mismatched").name, "mnli-mm");
  EXPECT_EQ(find_task("rte").benchmark, Benchmark::kGlue);
  EXPECT_EQ(find_task("SuperGLUE-RTE").name, "superglue-rte");
  EXPECT_EQ(find_task("rte-superglue").name, "superglue-rte");
  EXPECT_EQ(find_task("CommitmentBank").name, "cb");
  EXPECT_EQ(find_task("ReCoRD").name, "record");
}

TEST(TaskRegistryTest, UnknownTaskListsTheKnownOnes) {
  expect_error([] { find_task("squad"); }, {"unknown task 'squad'", "sst-2", "superglue-rte"});
  expect_error([] { parse_split("holdout"); }, {"unknown split 'holdout'"});
}

TEST(TaskRegistryTest, FilesPerSplit) {
  const TaskSpec& m = find_task("mnli-m");
  EXPECT_EQ(m.file(Split::kTrain), "train.tsv");
  EXPECT_EQ(m.file(Split::kDev), "dev_matched.tsv");
  EXPECT_EQ(find_task("mnli-mm").file(Split::kDev), "dev_mismatched.tsv");
  EXPECT_EQ(find_task("mnli-mm").file(Split::kTest), "test_mismatched.tsv");
  EXPECT_EQ(find_task("boolq").file(Split::kDev), "val.jsonl");
  EXPECT_EQ(find_task("superglue-rte").dir, "RTE");
  EXPECT_EQ(find_task("ax").file(Split::kTrain), "");
  EXPECT_EQ(parse_split("val"), Split::kDev);
  EXPECT_STREQ(split_name(Split::kTest), "test");
}

TEST(TaskRegistryTest, KindsAndHeads) {
  EXPECT_EQ(find_task("cola").num_outputs(), 2);
  EXPECT_EQ(find_task("mnli").num_outputs(), 3);
  EXPECT_EQ(find_task("cb").num_outputs(), 3);
  EXPECT_EQ(find_task("sts-b").kind, TaskKind::kRegression);
  EXPECT_EQ(find_task("sts-b").num_outputs(), 1);
  EXPECT_EQ(find_task("copa").kind, TaskKind::kRanking);
  EXPECT_EQ(find_task("record").kind, TaskKind::kRanking);
  EXPECT_EQ(find_task("record").num_outputs(), 1);
  EXPECT_EQ(find_task("multirc").kind, TaskKind::kGrouped);
  EXPECT_EQ(find_task("multirc").num_outputs(), 2);
}

TEST(TaskRegistryTest, SegmentOrderPutsTheHypothesisFirst) {
  EXPECT_THAT(find_task("mnli-m").segment_fields, ElementsAre("sentence2", "sentence1"));
  EXPECT_THAT(find_task("cb").segment_fields, ElementsAre("hypothesis", "premise"));
  EXPECT_THAT(find_task("superglue-rte").segment_fields, ElementsAre("hypothesis", "premise"));
  EXPECT_THAT(find_task("rte").segment_fields, ElementsAre("sentence1", "sentence2"));
  EXPECT_THAT(find_task("qnli").segment_fields, ElementsAre("question", "sentence"));
  EXPECT_THAT(find_task("record").segment_fields, ElementsAre("entity", "query", "passage"));
  EXPECT_THAT(find_task("copa").segment_fields, ElementsAre("premise", "question", "choice"));
  EXPECT_THAT(find_task("wic").segment_fields, ElementsAre("word", "sentence1", "sentence2"));
}

TEST(TaskRegistryTest, LabelIdsAndMetrics) {
  const TaskSpec& mnli = find_task("mnli");
  EXPECT_EQ(mnli.label_id("entailment"), 0);
  EXPECT_EQ(mnli.label_id("neutral"), 1);
  EXPECT_EQ(mnli.label_id("contradiction"), 2);
  EXPECT_EQ(mnli.label_id("Entailment"), -1);
  EXPECT_EQ(find_task("rte").label_id("not_entailment"), 1);
  EXPECT_EQ(find_task("boolq").label_id("true"), 1);
  EXPECT_THAT(find_task("cola").metrics, ElementsAre("mcc", "accuracy"));
  EXPECT_THAT(find_task("cola").score_metrics, ElementsAre("mcc"));
  EXPECT_THAT(find_task("mrpc").score_metrics, ElementsAre("f1", "accuracy"));
  EXPECT_THAT(find_task("cb").metrics, ElementsAre("accuracy", "macro_f1"));
  EXPECT_THAT(find_task("multirc").metrics, ElementsAre("f1a", "exact_match"));
  EXPECT_THAT(find_task("record").metrics, ElementsAre("f1", "exact_match"));
  EXPECT_EQ(find_task("mnli-m").submission_file, "MNLI-m.tsv");
  EXPECT_EQ(find_task("mnli-mm").submission_file, "MNLI-mm.tsv");
  EXPECT_EQ(find_task("superglue-rte").submission_file, "RTE.jsonl");
}

}  // namespace
}  // namespace smx::tasks
