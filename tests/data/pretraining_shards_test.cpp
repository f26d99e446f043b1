// The pre-training stream on JSON Lines shards: the same batches as the text form, the same
// batches for any number of tokenizer threads, and exact resume in the middle of a compressed
// shard.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "data/corpus_shards.h"
#include "smx/core/error.h"
#include "smx/data/pretraining_data.h"
#include "support/scratch_dir.h"
#include "support/test_util.h"
#include "support/tiny_tokenizer.h"

namespace smx {
namespace {

using testing::gzip_member;
using testing::gzip_parts;
using testing::jsonl_from_text_corpus;
using testing::numbered_corpus;
using testing::tiny_tokenizer;
using testing::zstd_frame;
using testing::zstd_parts;

PretrainingOptions small_options() {
  PretrainingOptions o;
  o.max_seq_len = 48;
  o.batch_size = 4;
  o.seed = 9;
  o.shuffle_buffer = 8;
  return o;
}

using smx::testing::same_batch;

std::vector<PretrainingBatch> take(PretrainingStream& s, int n) {
  std::vector<PretrainingBatch> out;
  for (int i = 0; i < n; ++i) {
    auto b = s.next_batch();
    if (!b) break;
    out.push_back(std::move(*b));
  }
  return out;
}

std::vector<std::string> halves(const std::string& text) {
  const auto a = text.find('\n', text.size() / 2) + 1;
  return {text.substr(0, a), text.substr(a)};
}

// Two shards of each kind holding the same 80 documents.
struct Shards {
  std::vector<std::string> text, jsonl, gz, zst, gz_members;
};

Shards make_shards(const testing::ScratchDir& dir) {
  const std::string all = numbered_corpus(80);
  const auto cut = all.find("line 0 of doc 40");
  const std::string first = all.substr(0, cut), second = all.substr(cut);
  Shards s;
  int k = 0;
  for (const auto& part : {first, second}) {
    const auto n = std::to_string(k++);
    const std::string j = jsonl_from_text_corpus(part);
    s.text.push_back(dir.write("t" + n + ".txt", part));
    s.jsonl.push_back(dir.write("j" + n + ".jsonl", j));
    s.gz.push_back(dir.write("g" + n + ".jsonl.gz", gzip_member(j)));
    s.zst.push_back(dir.write("z" + n + ".jsonl.zst", zstd_frame(j)));
    s.gz_members.push_back(dir.write("m" + n + ".jsonl.gz", gzip_parts(halves(j))));
  }
  return s;
}

TEST(PretrainingShards, JsonlPlainGzipZstdGiveTheBatchesOfTheTextForm) {
  testing::ScratchDir dir;
  const Shards s = make_shards(dir);
  for (const Split split : {Split::train, Split::eval}) {
    auto options = small_options();
    options.split = split;
    options.eval_fraction = split == Split::eval ? 0.5 : 0.2;
    PretrainingStream reference(tiny_tokenizer(), s.text, options);
    const auto expected = take(reference, 60);  // train: several epochs; eval: the whole pass
    ASSERT_GT(expected.size(), 5u);
    for (const auto* files : {&s.jsonl, &s.gz, &s.zst, &s.gz_members}) {
      PretrainingStream stream(tiny_tokenizer(), *files, options);
      const auto got = take(stream, 60);
      ASSERT_EQ(got.size(), expected.size()) << files->front();
      for (std::size_t i = 0; i < got.size(); ++i)
        ASSERT_TRUE(same_batch(got[i], expected[i])) << files->front() << " batch " << i;
    }
  }
}

TEST(PretrainingShards, RankShardsOfCompressedShardsMatchTheTextForm) {
  testing::ScratchDir dir;
  const Shards s = make_shards(dir);
  auto options = small_options();
  options.split = Split::eval;
  options.eval_fraction = 0.3;
  options.world_size = 2;
  for (int64_t rank = 0; rank < 2; ++rank) {
    options.rank = rank;
    options.corpus.workers = 2;
    PretrainingStream text(tiny_tokenizer(), s.text, options);
    PretrainingStream zst(tiny_tokenizer(), s.zst, options);
    const auto expected = take(text, 100), got = take(zst, 100);
    ASSERT_GT(expected.size(), 1u);
    ASSERT_EQ(got.size(), expected.size()) << "rank " << rank;
    for (std::size_t i = 0; i < got.size(); ++i)
      ASSERT_TRUE(same_batch(got[i], expected[i])) << "rank " << rank << " batch " << i;
  }
}

TEST(PretrainingShards, AnyNumberOfWorkersGivesTheSameBatches) {
  testing::ScratchDir dir;
  const Shards s = make_shards(dir);
  for (const Split split : {Split::train, Split::eval}) {
    auto options = small_options();
    options.split = split;
    options.eval_fraction = split == Split::eval ? 0.5 : 0.2;
    options.corpus.workers = 0;
    PretrainingStream inline_stream(tiny_tokenizer(), s.gz, options);
    const auto expected = take(inline_stream, 80);
    for (const int64_t workers : {1, 2, 3, 8}) {
      options.corpus.workers = workers;
      PretrainingStream stream(tiny_tokenizer(), s.gz, options);
      const auto got = take(stream, 80);
      ASSERT_EQ(got.size(), expected.size()) << workers << " workers";
      for (std::size_t i = 0; i < got.size(); ++i)
        ASSERT_TRUE(same_batch(got[i], expected[i])) << workers << " workers, batch " << i;
      EXPECT_GT(stream.stats().tokens, 0u);
      EXPECT_GT(stream.stats().busy_s, 0.0);
      EXPECT_GT(stream.stats().reader.tokenize_s, 0.0);
      EXPECT_GT(pipeline_tokens_per_s(PretrainingStreamStats{}, stream.stats()), 0.0);
    }
  }
}

TEST(PretrainingShards, ResumeInTheMiddleOfACompressedShard) {
  testing::ScratchDir dir;
  const Shards s = make_shards(dir);
  for (const auto* files : {&s.gz, &s.zst, &s.gz_members}) {
    for (const int64_t workers : {0, 2}) {
      auto options = small_options();
      options.corpus.workers = workers;
      PretrainingStream uninterrupted(tiny_tokenizer(), *files, options);
      // Stop where the saved position lies in the second half of the first shard (for the
      // two-member shards: inside the second member).
      std::string saved;
      nlohmann::json corpus;
      for (int k = 0; k < 40; ++k) {
        uninterrupted.next_batch();
        saved = uninterrupted.state();
        corpus = nlohmann::json::parse(saved).at("corpus");
        if (corpus.at("file") == 0 && corpus.at("document").get<int>() > 25) break;
      }
      ASSERT_EQ(corpus.at("file"), 0) << saved.substr(0, 300);
      EXPECT_GT(corpus.at("byte_offset").get<uint64_t>(), 0u);
      if (files == &s.gz_members) {
        EXPECT_GT(corpus.at("restart").at(0).get<uint64_t>(), 0u)
            << "two members: resumes from the second without decoding the first";
      }
      const auto expected = take(uninterrupted, 60);
      options.corpus.workers = 3 - workers;  // workers may change on resume
      PretrainingStream resumed(tiny_tokenizer(), *files, options, saved);
      const auto got = take(resumed, 60);
      ASSERT_EQ(got.size(), expected.size());
      for (std::size_t i = 0; i < got.size(); ++i)
        ASSERT_TRUE(same_batch(got[i], expected[i])) << files->front() << " batch " << i;
    }
  }
}

TEST(PretrainingShards, StatesFromBeforeShardSupportStillResume) {
  testing::ScratchDir dir;
  const Shards s = make_shards(dir);
  const auto options = small_options();
  PretrainingStream stream(tiny_tokenizer(), s.text, options);
  take(stream, 5);
  auto state = nlohmann::json::parse(stream.state());
  const auto expected = take(stream, 20);
  // The fields this version added are absent from older checkpoints.
  state["generation"].erase("corpus_format");
  state["generation"].erase("text_field");
  state["corpus"].erase("restart");
  state.erase("bad_records");
  PretrainingStream resumed(tiny_tokenizer(), s.text, options, state.dump());
  const auto got = take(resumed, 20);
  ASSERT_EQ(got.size(), expected.size());
  for (std::size_t i = 0; i < got.size(); ++i) ASSERT_TRUE(same_batch(got[i], expected[i])) << i;
  // A different text field is a different stream: refused.
  auto other = options;
  other.corpus.text_field = "body";
  EXPECT_THROW(PretrainingStream(tiny_tokenizer(), s.text, other, state.dump()), Error);
}

TEST(PretrainingShards, ErrorsArriveInCorpusOrderWhateverTheWorkers) {
  testing::ScratchDir dir;
  std::string jsonl = jsonl_from_text_corpus(numbered_corpus(60));
  const auto at = jsonl.find("{\"id\":45,");
  ASSERT_NE(at, std::string::npos);
  jsonl.insert(at, "{\"id\": 99, \"text\": [1, 2]}\n");  // line 46
  const auto path = dir.write("bad.jsonl.zst", zstd_frame(jsonl));
  std::string first;
  for (const int64_t workers : {0, 1, 4}) {
    auto options = small_options();
    options.corpus.workers = workers;
    PretrainingStream stream(tiny_tokenizer(), {path}, options);
    std::string message;
    int batches = 0;
    try {
      for (; batches < 200; ++batches) stream.next_batch();
    } catch (const Error& e) {
      message = e.what();
    }
    EXPECT_NE(message.find("bad.jsonl.zst:46: field \"text\" holds a JSON array"),
              std::string::npos)
        << message;
    EXPECT_THROW(stream.next_batch(), Error) << "the error is sticky";
    if (first.empty()) first = message + std::to_string(batches);
    EXPECT_EQ(message + std::to_string(batches), first) << "same batch, same error";

    options.corpus.skip_bad_records = true;
    PretrainingStream lenient(tiny_tokenizer(), {path}, options);
    take(lenient, 60);
    EXPECT_GE(lenient.stats().bad_records, 1u) << "counted each time a pass meets it";
    EXPECT_NE(lenient.stats().last_bad_record.find("bad.jsonl.zst:46"), std::string::npos);
    // The count survives a resume.
    PretrainingStream resumed(tiny_tokenizer(), {path}, options, lenient.state());
    EXPECT_EQ(resumed.stats().bad_records, lenient.stats().bad_records);
  }
}

}  // namespace
}  // namespace smx
