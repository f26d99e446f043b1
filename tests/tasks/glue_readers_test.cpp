#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "smx/tasks/glue_readers.h"
#include "smx/tasks/task_reader.h"
#include "tasks/task_test_util.h"

namespace smx::tasks {
namespace {

using ::testing::ElementsAre;
using testing::expect_error;
using testing::glue_samples;
using ::testing::HasSubstr;
using testing::ScratchDir;

std::vector<TaskExample> read_glue(const std::string& task, Split split,
                                   ReadStats* stats = nullptr) {
  return read_split(find_task(task), glue_samples(), split, stats);
}

TEST(GlueReaderTest, ColaTrainHasNoHeader) {
  const auto ex = read_glue("cola", Split::kTrain);
  ASSERT_EQ(ex.size(), 5u);  // the first line is data, not a header
  EXPECT_THAT(
      ex[0].segments,
      ElementsAre("Our friends won't buy this analysis, let alone the next one we propose."));
  EXPECT_EQ(ex[0].label, 1);
  EXPECT_EQ(ex[3].segments[0], "They drank the pub.");
  EXPECT_EQ(ex[3].label, 0);
  EXPECT_TRUE(ex[3].has_label);
  EXPECT_EQ(ex[4].id, "4");  // row numbers: no index column
}

TEST(GlueReaderTest, ColaDevWithoutFinalNewlineKeepsItsLastRow) {
  const auto ex = read_glue("cola", Split::kDev);
  ASSERT_EQ(ex.size(), 4u);
  EXPECT_EQ(ex.back().segments[0], "John talked to Bill about himself.");
}

TEST(GlueReaderTest, ColaTestHasAHeaderAndNoLabels) {
  const auto ex = read_glue("cola", Split::kTest);
  ASSERT_EQ(ex.size(), 3u);
  EXPECT_FALSE(ex[0].has_label);
  EXPECT_EQ(ex[1].id, "1");
  EXPECT_EQ(ex[1].segments[0], "The car honked its way down the road.");
}

TEST(GlueReaderTest, MrpcWithByteOrderMark) {
  const auto ex = read_glue("mrpc", Split::kTrain);
  ASSERT_EQ(ex.size(), 4u);
  EXPECT_EQ(ex[0].label, 1);
  EXPECT_EQ(ex[1].label, 0);
  EXPECT_THAT(ex[0].segments[0], HasSubstr("Amrozi accused his brother"));
  EXPECT_THAT(ex[0].segments[1], HasSubstr("Referring to him as only"));
  EXPECT_EQ(ex[2].id, "2");
  const auto test = read_glue("mrpc", Split::kTest);
  ASSERT_EQ(test.size(), 3u);
  EXPECT_EQ(test[0].id, "0");
  EXPECT_FALSE(test[0].has_label);
}

TEST(GlueReaderTest, StsbScoresAndBareQuotes) {
  const auto ex = read_glue("sts-b", Split::kTrain);
  ASSERT_EQ(ex.size(), 4u);
  EXPECT_FLOAT_EQ(ex[0].label, 5.0f);
  EXPECT_FLOAT_EQ(ex[1].label, 3.8f);
  EXPECT_EQ(ex[2].segments[0], "A dog in a \"superman\" shirt sleeps on a blanket.");
  EXPECT_FLOAT_EQ(ex[2].label, 4.0f);
  EXPECT_EQ(ex[2].id, "1523");
  const auto test = read_glue("sts-b", Split::kTest);  // 9 columns, no score
  ASSERT_EQ(test.size(), 3u);
  EXPECT_FALSE(test[0].has_label);
}

TEST(GlueReaderTest, MnliPutsTheHypothesisFirst) {
  const auto m = read_glue("mnli-m", Split::kDev);
  ASSERT_EQ(m.size(), 3u);
  EXPECT_THAT(m[0].segments, ElementsAre("Everyone really likes the newest benefits ",
                                         "The new rights are nice enough"));
  EXPECT_EQ(m[0].label, 1);  // neutral (gold_label, not label1)
  EXPECT_EQ(m[1].label, 2);  // contradiction
  EXPECT_EQ(m[2].label, 0);  // entailment
  EXPECT_EQ(read_glue("mnli-mm", Split::kDev).size(), 2u);
  EXPECT_EQ(read_glue("mnli", Split::kTrain).size(), 5u);
  const auto mm_test = read_glue("mnli-mm", Split::kTest);  // no final newline
  ASSERT_EQ(mm_test.size(), 2u);
  EXPECT_EQ(mm_test[1].segments[0], "The \"Guest Artists\" donor list.");
  EXPECT_EQ(read_glue("mnli-m", Split::kTest).size(), 1u);
}

TEST(GlueReaderTest, QqpSkipsBrokenRows) {
  ReadStats stats;
  const auto ex = read_glue("qqp", Split::kTrain, &stats);
  ASSERT_EQ(ex.size(), 4u);
  EXPECT_EQ(stats.rows, 6);
  EXPECT_EQ(stats.skipped_rows, 2);  // one question broken over two lines
  EXPECT_EQ(ex[2].id, "7");
  EXPECT_EQ(ex[2].label, 1);
  EXPECT_EQ(ex[3].id, "11");
  EXPECT_EQ(read_glue("qqp", Split::kTest).size(), 2u);
}

TEST(GlueReaderTest, OtherTasksAndSplits) {
  const auto qnli = read_glue("qnli", Split::kDev);
  ASSERT_EQ(qnli.size(), 2u);
  EXPECT_EQ(qnli[0].segments[0], "What came into force after the new constitution was herald?");
  EXPECT_EQ(qnli[1].label, 1);  // not_entailment
  const auto rte = read_glue("rte", Split::kTrain);
  ASSERT_EQ(rte.size(), 3u);
  EXPECT_EQ(rte[0].label, 1);
  EXPECT_EQ(rte[2].label, 0);
  EXPECT_THAT(rte[2].segments[0], HasSubstr("\"extensive\""));
  EXPECT_EQ(read_glue("sst-2", Split::kTrain).size(), 4u);
  EXPECT_EQ(read_glue("sst-2", Split::kTest).size(), 3u);
  EXPECT_EQ(read_glue("wnli", Split::kDev).size(), 2u);
  EXPECT_EQ(read_glue("wnli", Split::kTest)[0].id, "20");
  const auto ax = read_glue("ax", Split::kTest);  // no final newline
  ASSERT_EQ(ax.size(), 3u);
  EXPECT_EQ(ax[0].segments[0], "The cat did not sit on the mat.");  // hypothesis first
  EXPECT_EQ(ax[2].id, "1103");
}

TEST(GlueReaderTest, AcceptsTheTaskFolderAndCrlf) {
  ScratchDir dir;
  dir.write("train.tsv", "sentence\tlabel\r\na b\t1\r\nc d\t0\r\n");
  const auto ex = read_split(find_task("sst-2"), dir.root(), Split::kTrain);
  ASSERT_EQ(ex.size(), 2u);
  EXPECT_EQ(ex[0].segments[0], "a b");
  EXPECT_EQ(ex[1].label, 0);
}

TEST(GlueReaderTest, MissingColumnNamesFileLineAndColumn) {
  ScratchDir dir;
  dir.write("RTE/dev.tsv", "index\tsentence1\tlabel\n0\ta\tentailment\n");
  expect_error([&] { read_split(find_task("rte"), dir.root(), Split::kDev); },
               {"RTE/dev.tsv:1:", "missing column 'sentence2'"});
  dir.write("RTE/train.tsv", "index\tsentence1\tsentence2\n0\ta\tb\n");
  expect_error([&] { read_split(find_task("rte"), dir.root(), Split::kTrain); },
               {"RTE/train.tsv:1:", "missing label column 'label'"});
}

TEST(GlueReaderTest, BadLabelNamesFileLineAndColumn) {
  ScratchDir dir;
  dir.write("RTE/dev.tsv",
            "index\tsentence1\tsentence2\tlabel\n0\ta\tb\tentailment\n1\tc\td\tyes\n");
  expect_error([&] { read_split(find_task("rte"), dir.root(), Split::kDev); },
               {"RTE/dev.tsv:3:", "column 'label'", "'yes'", "entailment, not_entailment"});
  dir.write("STS-B/dev.tsv", "index\tsentence1\tsentence2\tscore\n0\ta\tb\thigh\n");
  expect_error([&] { read_split(find_task("sts-b"), dir.root(), Split::kDev); },
               {"STS-B/dev.tsv:2:", "column 'score'", "'high' is not a number"});
}

TEST(GlueReaderTest, WrongFieldCountIsAnError) {
  ScratchDir dir;
  dir.write("RTE/dev.tsv", "index\tsentence1\tsentence2\tlabel\n0\ta\tb\tc\tentailment\n");
  expect_error([&] { read_split(find_task("rte"), dir.root(), Split::kDev); },
               {"RTE/dev.tsv:2:", "5 tab-separated fields, expected 4"});
}

TEST(GlueReaderTest, EmptySplitAndMissingFileAreErrors) {
  ScratchDir dir;
  dir.write("SST-2/dev.tsv", "sentence\tlabel\n");
  expect_error([&] { read_split(find_task("sst-2"), dir.root(), Split::kDev); },
               {"SST-2/dev.tsv", "dev split of SST-2 has no examples"});
  dir.write("SST-2/test.tsv", "");
  expect_error([&] { read_split(find_task("sst-2"), dir.root(), Split::kTest); }, {"no examples"});
  expect_error([&] { read_split(find_task("cola"), dir.root(), Split::kTrain); },
               {"CoLA/train.tsv: file not found"});
  expect_error([&] { read_split(find_task("ax"), glue_samples(), Split::kTrain); },
               {"AX has no train split"});
}

TEST(GlueReaderTest, Latin1BytesAndNulsNameTheLine) {
  ScratchDir dir;
  dir.write("RTE/dev.tsv", "index\tsentence1\tsentence2\tlabel\n0\tcaf\xe9\tb\tentailment\n");
  expect_error([&] { read_split(find_task("rte"), dir.root(), Split::kDev); },
               {"RTE/dev.tsv:2:", "not valid UTF-8 (0xe9)", "iconv -f latin1"});
  dir.write("RTE/dev.tsv",
            std::string("index\tsentence1\tsentence2\tlabel\n0\ta") + '\0' + "b\tc\tentailment\n");
  expect_error([&] { read_split(find_task("rte"), dir.root(), Split::kDev); },
               {"RTE/dev.tsv:2:", "NUL byte"});
}

}  // namespace
}  // namespace smx::tasks
