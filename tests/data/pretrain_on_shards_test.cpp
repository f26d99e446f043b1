// Pre-training on compressed JSON Lines shards end to end: a run resumed from a checkpoint taken in
// the middle of a gzip shard has the losses of an uninterrupted run, and `smx pretrain` takes
// globs, --data-workers and --skip-bad-records and logs the data pipeline.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "data/corpus_shards.h"
#include "smx/io/checkpoint.h"
#include "smx/train/pretrainer.h"
#include "support/run_cli.h"
#include "support/scratch_dir.h"
#include "support/test_util.h"
#include "support/tiny_pretraining.h"
#include "support/tiny_tokenizer.h"

namespace smx {
namespace {

using ::testing::HasSubstr;
using testing::jsonl_from_text_corpus;
using testing::numbered_corpus;

// Two gzip shards of 300 documents, each of two members.
void write_shards(const testing::ScratchDir& dir, const std::string& extra_line = "") {
  for (int s = 0; s < 2; ++s) {
    std::string jsonl = jsonl_from_text_corpus(numbered_corpus(300));
    const auto half = jsonl.find('\n', jsonl.size() / 2) + 1;
    if (s == 1) jsonl.insert(half, extra_line);
    dir.write("shard-" + std::to_string(s) + ".jsonl.gz",
              testing::gzip_parts({jsonl.substr(0, half), jsonl.substr(half)}));
  }
}

train::PretrainOptions shard_run_options(const testing::ScratchDir& dir, const std::string& run) {
  train::PretrainOptions o =
      testing::tiny_pretrain_options(dir, run, {dir.file("shard-*.jsonl.gz")});
  o.corpus.workers = 2;
  o.threads = 1;
  return o;
}

TEST(PretrainOnShards, ResumeInTheMiddleOfAGzipShardGivesTheSameLosses) {
  testing::ScratchDir dir;
  write_shards(dir);
  ModelConfig c = testing::tiny_config("linear", Padding::kMasked);
  c.vocab_size = testing::tiny_tokenizer()->vocab_size();
  c.max_seq_len = 32;
  const auto straight = train::pretrain(c, shard_run_options(dir, "straight"));
  ASSERT_EQ(straight.losses.size(), 6u);

  auto first = shard_run_options(dir, "split");
  first.stop_after = 3;
  const auto a = train::pretrain(c, first);
  // The checkpoint's data position lies inside the first shard.
  io::CheckpointManager manager(dir.file("split"), 3);
  const auto state =
      nlohmann::json::parse(io::CheckpointManager::load(*manager.latest()).data_state);
  const auto& corpus = state.at("corpus");
  std::printf("    checkpoint at step 3: shard %d, line %d, decompressed byte %d, restart %s\n",
              corpus.at("file").get<int>(), corpus.at("line").get<int>(),
              corpus.at("byte_offset").get<int>(), corpus.at("restart").dump().c_str());
  EXPECT_EQ(corpus.at("file"), 0);
  EXPECT_GT(corpus.at("line").get<int>(), 0);
  EXPECT_LT(corpus.at("line").get<int>(), 300);

  auto second = shard_run_options(dir, "split");
  second.resume = true;
  second.corpus.workers = 1;  // the thread count may change on resume
  const auto b = train::pretrain(c, second);
  ASSERT_EQ(a.losses.size() + b.losses.size(), 6u);
  const double worst = smx::testing::max_resume_loss_diff(straight, a, b);
  std::printf("    3 + resume + 3 vs 6 straight on gzip JSONL: max |loss diff| = %.3e\n", worst);
  EXPECT_LT(worst, 1e-6);
  EXPECT_NEAR(b.final_eval.loss, straight.final_eval.loss, 1e-6);
}

TEST(PretrainOnShards, CommandLineGlobsWorkersBadRecordsAndDataLog) {
  testing::ScratchDir dir;
  write_shards(dir, "{\"text\": 7}\n");
  const std::string common =
      "--data '" + dir.file("shard-*.jsonl.gz") + "' --tokenizer " +
      testing::tiny_tokenizer()->path() + " --config sparse-mixer-tiny --set vocab_size=" +
      std::to_string(testing::tiny_tokenizer()->vocab_size()) + " --batch 4 --threads 1";
  // Without --skip-bad-records the bad record stops the run, named by shard and line.
  const auto strict = testing::run_smx("pretrain " + common + " --steps 400 --log-every 50 --out " +
                                       dir.file("strict"));
  EXPECT_NE(strict.status, 0);
  EXPECT_THAT(strict.output, HasSubstr("shard-1.jsonl.gz:"));
  EXPECT_THAT(strict.output, HasSubstr("field \"text\" holds a JSON number"));

  const auto r = testing::run_smx("pretrain " + common +
                                  " --steps 400 --log-every 50 --eval-every 0 --data-workers 2 "
                                  "--skip-bad-records --out " +
                                  dir.file("run"));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("tok/s wait"));
  EXPECT_THAT(r.output, HasSubstr("skipped 1 bad record(s) so far; the last: corpus file"));
  std::ifstream metrics(dir.file("run") + "/metrics.jsonl");
  int train_records = 0;
  for (std::string line; std::getline(metrics, line);) {
    const auto record = nlohmann::json::parse(line);
    if (record.value("type", "") != "train") continue;
    ++train_records;
    EXPECT_GE(record.at("data_wait_s").get<double>(), 0.0);
    EXPECT_GT(record.at("data_tokens_per_s").get<double>(), 0.0);
  }
  EXPECT_EQ(train_records, 8);
  // The run records the expanded shard list and the corpus options.
  std::ifstream saved(dir.file("run") + "/options.json");
  const auto options = nlohmann::json::parse(saved);
  EXPECT_EQ(options.at("data_files").size(), 2u);
  EXPECT_EQ(options.at("corpus").at("workers"), 2);
  EXPECT_EQ(options.at("corpus").at("skip_bad_records"), true);

  const auto bench = testing::run_smx("pretrain --data-only " + common +
                                      " --steps 20 --log-every 10 --data-workers 2 "
                                      "--skip-bad-records");
  ASSERT_EQ(bench.status, 0) << bench.output;
  EXPECT_THAT(bench.output, HasSubstr("data only: 20 batches of 4 x"));
  EXPECT_THAT(bench.output, HasSubstr("with 2 data worker(s)"));
}

}  // namespace
}  // namespace smx
