#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "smx/tasks/superglue_readers.h"
#include "smx/tasks/task_reader.h"
#include "tasks/task_test_util.h"

namespace smx::tasks {
namespace {

using ::testing::ElementsAre;
using testing::expect_error;
using ::testing::HasSubstr;
using testing::ScratchDir;
using testing::superglue_samples;

std::vector<TaskExample> read_superglue(const std::string& task, Split split) {
  return read_split(find_task(task), superglue_samples(), split);
}

TEST(SuperGlueReaderTest, BoolqBooleansBecomeLabelIds) {
  const auto ex = read_superglue("boolq", Split::kDev);
  ASSERT_EQ(ex.size(), 3u);
  EXPECT_THAT(ex[0].segments, ElementsAre("are they going to make a punisher season 2",
                                          "The Punisher (season 2) -- The season is set for "
                                          "release in 2019."));
  EXPECT_EQ(ex[0].label, 1);  // true
  EXPECT_EQ(ex[1].label, 0);  // false
  EXPECT_EQ(ex[1].id, "1827");
}

TEST(SuperGlueReaderTest, CbAndRtePutTheHypothesisFirst) {
  const auto cb = read_superglue("cb", Split::kTrain);
  ASSERT_EQ(cb.size(), 3u);
  EXPECT_EQ(cb[0].segments[0], "Abie was clever");
  EXPECT_THAT(cb[0].segments[1], HasSubstr("Klug means"));
  EXPECT_EQ(cb[0].label, 2);  // neutral
  EXPECT_EQ(cb[1].label, 1);  // contradiction
  EXPECT_EQ(cb[2].label, 0);  // entailment
  EXPECT_EQ(cb[0].id, "76");
  const auto rte = read_superglue("superglue-rte", Split::kDev);
  ASSERT_EQ(rte.size(), 3u);
  EXPECT_EQ(rte[0].segments[0], "Christopher Reeve had an accident.");
  EXPECT_EQ(rte[0].label, 1);  // not_entailment
}

TEST(SuperGlueReaderTest, TestSplitsHaveNoLabelsAndNoFinalNewline) {
  const auto cb = read_superglue("cb", Split::kTest);
  ASSERT_EQ(cb.size(), 2u);
  EXPECT_FALSE(cb[1].has_label);
  EXPECT_EQ(cb[1].id, "1");
  EXPECT_EQ(read_superglue("superglue-rte", Split::kTest).size(), 2u);
  EXPECT_EQ(read_superglue("wic", Split::kTest).size(), 2u);
}

TEST(SuperGlueReaderTest, WicSegments) {
  const auto ex = read_superglue("wic", Split::kTrain);
  ASSERT_EQ(ex.size(), 3u);
  EXPECT_THAT(ex[1].segments, ElementsAre("dig", "Dig salt.", "Dig coal."));
  EXPECT_EQ(ex[0].label, 0);
  EXPECT_EQ(ex[1].label, 1);
}

TEST(SuperGlueReaderTest, CopaExpandsEachQuestionIntoTwoCandidates) {
  const auto ex = read_superglue("copa", Split::kDev);
  ASSERT_EQ(ex.size(), 6u);
  EXPECT_THAT(ex[0].segments, ElementsAre("The man turned on the faucet.", "effect",
                                          "The toilet filled with water."));
  EXPECT_THAT(ex[1].segments, ElementsAre("The man turned on the faucet.", "effect",
                                          "Water flowed from the spout."));
  EXPECT_EQ(ex[0].label, 0);
  EXPECT_EQ(ex[1].label, 1);  // label 1 = choice2
  EXPECT_EQ(ex[4].segments[1], "cause");
  EXPECT_EQ(ex[4].label, 1);  // label 0 = choice1
  EXPECT_EQ(ex[5].label, 0);
  EXPECT_EQ(ex[0].group, ex[1].group);
  EXPECT_NE(ex[1].group, ex[2].group);
  EXPECT_EQ(ex[4].id, "32");
  const auto test = read_superglue("copa", Split::kTest);
  ASSERT_EQ(test.size(), 4u);
  EXPECT_FALSE(test[0].has_label);
}

TEST(SuperGlueReaderTest, MultircStripsTagsAndGroupsByQuestion) {
  const auto ex = read_superglue("multirc", Split::kDev);
  ASSERT_EQ(ex.size(), 10u);  // 2 + 3 answers, then 5
  EXPECT_EQ(ex[0].segments[0], "Who said hello to the blue ball?");
  EXPECT_EQ(ex[0].segments[1], "The red ball");
  EXPECT_EQ(ex[0].segments[2],
            "Sent 1: The cute red ball rolled over to the blue ball and said hello. Sent 2: The "
            "blue ball was scared and went to cry to the green ball. Sent 3: The green ball "
            "laughed at the blue ball. ");
  EXPECT_EQ(ex[0].label, 1);
  EXPECT_EQ(ex[1].label, 0);
  EXPECT_EQ(ex[0].group, ex[1].group);
  EXPECT_NE(ex[1].group, ex[2].group);
  EXPECT_EQ(ex[2].group, ex[4].group);
  EXPECT_NE(ex[4].group, ex[5].group);
  EXPECT_EQ(ex[4].id, "0:1:4");
  EXPECT_EQ(ex[9].id, "155:1728:8965");
  EXPECT_EQ(ex[9].label, 1);
  EXPECT_EQ(strip_multirc_tags("<b>Sent 1: </b>a<br>b"), "Sent 1: a b");
  EXPECT_FALSE(read_superglue("multirc", Split::kTest)[0].has_label);
}

TEST(SuperGlueReaderTest, RecordExpandsEachQueryIntoItsCandidateEntities) {
  const auto ex = read_superglue("record", Split::kDev);
  ASSERT_EQ(ex.size(), 23u);  // 11 + 12 distinct entity texts
  std::vector<std::string> first, positives;
  for (const TaskExample& e : ex) {
    if (e.group == ex[0].group) first.push_back(e.answer_text);
    if (e.label == 1) positives.push_back(e.answer_text);
  }
  EXPECT_THAT(first, ElementsAre("Asif Ali Zardari", "Asif Zardari", "Benazir Bhutto", "Bhutto",
                                 "Bhutto-Zardari", "Bilawal Bhutto-Zardari", "CNN", "Islamabad",
                                 "Pakistan", "Pakistani", "Sindh province"));
  // Spans after the en dash are code-point offsets: "Luxemburg" is found intact.
  EXPECT_THAT(positives, ElementsAre("Benazir Bhutto", "Bhutto", "Luxembourg", "Luxemburg"));
  EXPECT_EQ(ex[0].segments[0], "Asif Ali Zardari");
  EXPECT_EQ(ex[0].segments[1],
            "They will sew our lips, but we will chant, 'Long live @placeholder.'");
  EXPECT_THAT(ex[0].segments[2], HasSubstr("Islamabad, Pakistan (CNN)"));
  EXPECT_THAT(ex[0].gold_answers, ElementsAre("Benazir Bhutto", "Bhutto"));
  EXPECT_EQ(ex[0].id, "19617");
  EXPECT_EQ(ex[22].id, "64992");
  const auto test = read_superglue("record", Split::kTest);
  ASSERT_EQ(test.size(), 11u);
  EXPECT_FALSE(test[0].has_label);
  EXPECT_TRUE(test[0].gold_answers.empty());
}

TEST(SuperGlueReaderTest, MissingFieldNamesFileLineAndField) {
  ScratchDir dir;
  dir.write("CB/val.jsonl",
            "{\"premise\": \"p\", \"hypothesis\": \"h\", \"label\": \"neutral\", \"idx\": 0}\n"
            "{\"premise\": \"p\", \"label\": \"neutral\", \"idx\": 1}\n");
  expect_error([&] { read_split(find_task("cb"), dir.root(), Split::kDev); },
               {"CB/val.jsonl:2:", "missing field 'hypothesis'"});
  dir.write("CB/train.jsonl", "{\"premise\": \"p\", \"hypothesis\": \"h\", \"idx\": 0}\n");
  expect_error([&] { read_split(find_task("cb"), dir.root(), Split::kTrain); },
               {"CB/train.jsonl:1:", "missing field 'label'"});
  dir.write("MultiRC/val.jsonl",
            "{\"idx\": 0, \"passage\": {\"text\": \"t\", \"questions\": [{\"question\": \"q\", "
            "\"idx\": 0, \"answers\": [{\"text\": \"a\", \"idx\": 0}]}]}}\n");
  expect_error([&] { read_split(find_task("multirc"), dir.root(), Split::kDev); },
               {"MultiRC/val.jsonl:1:", "'passage.questions[0].answers[0].label'"});
}

TEST(SuperGlueReaderTest, BadLabelAndBadJsonAreErrors) {
  ScratchDir dir;
  dir.write("CB/val.jsonl",
            "{\"premise\": \"p\", \"hypothesis\": \"h\", \"label\": \"maybe\", \"idx\": 0}\n");
  expect_error([&] { read_split(find_task("cb"), dir.root(), Split::kDev); },
               {"CB/val.jsonl:1:", "field 'label'", "\"maybe\"", "entailment, contradiction"});
  dir.write("COPA/val.jsonl",
            "{\"premise\": \"p\", \"choice1\": \"a\", \"choice2\": \"b\", \"question\": \"cause\", "
            "\"label\": 2, \"idx\": 0}\n");
  expect_error([&] { read_split(find_task("copa"), dir.root(), Split::kDev); },
               {"COPA/val.jsonl:1:", "field 'label'", "2 is not a label of COPA"});
  dir.write("WiC/val.jsonl", "{\"word\": \"w\",\n");
  expect_error([&] { read_split(find_task("wic"), dir.root(), Split::kDev); },
               {"WiC/val.jsonl:1:", "not valid JSON"});
  dir.write("ReCoRD/val.jsonl",
            "{\"passage\": {\"text\": \"abc\", \"entities\": [{\"start\": 1, \"end\": 3}]}, "
            "\"qas\": [], \"idx\": 0}\n");
  expect_error([&] { read_split(find_task("record"), dir.root(), Split::kDev); },
               {"ReCoRD/val.jsonl:1:", "passage.entities[0]", "outside the passage"});
}

TEST(SuperGlueReaderTest, EmptySplitIsAnError) {
  ScratchDir dir;
  dir.write("BoolQ/train.jsonl", "\n");
  expect_error([&] { read_split(find_task("boolq"), dir.root(), Split::kTrain); },
               {"BoolQ/train.jsonl", "train split of BoolQ has no examples"});
}

TEST(SuperGlueReaderTest, DeepOrInvalidLinesNameFileAndLine) {
  ScratchDir dir;
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  dir.write("RTE/val.jsonl", "{\"premise\": " + deep + "}\n");
  expect_error([&] { read_split(find_task("rte-superglue"), dir.root(), Split::kDev); },
               {"RTE/val.jsonl:1", "nests deeper than 64 levels"});
  dir.write("RTE/val.jsonl", "{\"premise\": \"caf\xe9\"}\n");
  expect_error([&] { read_split(find_task("rte-superglue"), dir.root(), Split::kDev); },
               {"RTE/val.jsonl:1", "not valid UTF-8"});
}

}  // namespace
}  // namespace smx::tasks
