// Batch invariance: an input's outputs are the same whether it runs alone, in a length-bucketed
// batch (smx embed/classify/score) or in a dynamic batch with other requests' inputs (Batcher).
#include <algorithm>
#include <fstream>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "smx/model/sparse_mixer.h"
#include "smx/serve/batcher.h"
#include "smx/serve/inference.h"
#include "smx/serve/model_bundle.h"
#include "support/model_folder.h"
#include "support/run_cli.h"
#include "support/scratch_dir.h"
#include "support/test_util.h"
#include "support/tiny_tokenizer.h"

namespace smx::serve {
namespace {

using json = nlohmann::json;
using smx::testing::max_abs_diff;
using smx::testing::run_smx;
using ::testing::HasSubstr;

constexpr double kTolerance = 1e-5;

std::shared_ptr<ModelBundle> tiny_bundle(Padding padding = Padding::kMasked) {
  const ModelConfig config = smx::testing::tiny_serving_config(padding);
  TaskInfo task;
  task.task = "tiny";
  task.num_outputs = 3;
  task.labels = {"a", "b", "c"};
  return std::make_shared<ModelBundle>(config, smx::testing::tiny_tokenizer(),
                                       model::make_sparse_mixer(config, 5, 3), task);
}

// Texts from 1 to ~60 tokens, some as pairs.
std::vector<EncodedText> sample_inputs(const ModelBundle& bundle, int count) {
  std::vector<EncodedText> out;
  const auto sentences = smx::testing::sample_sentences(count * 2, 3);
  for (int i = 0; i < count; ++i) {
    std::string text = sentences[i];
    for (int k = 0; k < i % 4; ++k) text += " " + sentences[(i + k + 1) % sentences.size()];
    std::optional<std::string> pair;
    if (i % 3 == 1) pair = sentences[count + i];
    out.push_back(bundle.encode(i % 7 == 6 ? "go" : text, pair));
  }
  return out;
}

TEST(BatchInvariance, BatchedOutputsEqualOneAtATime) {
  const auto bundle = tiny_bundle();
  ASSERT_TRUE(bundle->batch_invariant()) << bundle->batch_variance_reason();
  const InferenceEngine engine(bundle, Precision::kFp32);
  const auto inputs = sample_inputs(*bundle, 24);
  int64_t shortest = 1000, longest = 0;
  for (const auto& e : inputs) {
    shortest = std::min(shortest, e.length());
    longest = std::max(longest, e.length());
  }
  std::printf("    %zu inputs of %lld to %lld tokens\n", inputs.size(),
              static_cast<long long>(shortest), static_cast<long long>(longest));
  ASSERT_GT(longest - shortest, 16);  // padded lengths really differ between the two runs

  for (const OutputKind kind :
       {OutputKind::kCls, OutputKind::kMean, OutputKind::kTokens, OutputKind::kLogits}) {
    std::vector<BatchRequest> all;
    for (const auto& e : inputs) all.push_back({&e.encoded, kind});
    const auto batched = engine.run(all);
    double worst = 0;
    for (size_t i = 0; i < inputs.size(); ++i) {
      const auto alone = engine.run({all[i]});
      ASSERT_EQ(batched[i].rows, alone[0].rows);
      ASSERT_EQ(batched[i].cols, alone[0].cols);
      worst = std::max(worst, max_abs_diff(batched[i].values, alone[0].values));
    }
    std::printf("    output kind %d: batched vs one-at-a-time max |diff| = %.3e (tolerance %.0e)\n",
                static_cast<int>(kind), worst, kTolerance);
    EXPECT_LE(worst, kTolerance);
  }
  // Token rows are the real tokens only, and mean pooling is their average.
  std::vector<BatchRequest> one = {{&inputs[2].encoded, OutputKind::kTokens}};
  const auto tokens = engine.run(one);
  EXPECT_EQ(tokens[0].rows, inputs[2].length());
  EXPECT_EQ(tokens[0].cols, bundle->config().d_model);
}

TEST(BatchInvariance, ReferencePaddingModelsAreFlagged) {
  const auto bundle = tiny_bundle(Padding::kReference);
  EXPECT_FALSE(bundle->batch_invariant());
  EXPECT_THAT(bundle->batch_variance_reason(), HasSubstr("reference"));
  EXPECT_THAT(bundle->batch_variance_reason(), HasSubstr("tokens:4096"));
}

TEST(BatchPlanning, SortsByLengthAndKeepsTheTokenBudget) {
  const auto bundle = tiny_bundle();
  const InferenceEngine engine(bundle, Precision::kFp32);
  const std::vector<int64_t> lengths = {5, 60, 3, 17, 17, 9, 64, 1, 30, 8};
  const auto batches = plan_batches(lengths, engine, /*max_batch_tokens=*/64, /*max_batch_size=*/3);
  std::vector<size_t> seen;
  int64_t previous = 0;
  for (const auto& batch : batches) {
    ASSERT_FALSE(batch.empty());
    EXPECT_LE(batch.size(), 3U);
    int64_t longest = 0;
    for (const size_t i : batch) {
      EXPECT_GE(lengths[i], previous);  // ascending across and within batches
      previous = lengths[i];
      longest = std::max(longest, lengths[i]);
      seen.push_back(i);
    }
    if (batch.size() > 1) {
      EXPECT_LE(engine.batch_cost(static_cast<int64_t>(batch.size()), longest), 64);
    }
  }
  std::sort(seen.begin(), seen.end());
  ASSERT_EQ(seen.size(), lengths.size());
  for (size_t i = 0; i < seen.size(); ++i) EXPECT_EQ(seen[i], i);
  EXPECT_EQ(batches.back().size(), 1U);  // 64 tokens fill the budget alone
}

TEST(DynamicBatcher, ConcurrentJobsGetTheirOwnCorrectOutputs) {
  const auto bundle = tiny_bundle();
  auto engine = std::make_shared<InferenceEngine>(bundle, Precision::kFp32);
  const auto inputs = sample_inputs(*bundle, 32);
  std::vector<std::vector<float>> expected;
  for (const auto& e : inputs)
    expected.push_back(engine->run({{&e.encoded, OutputKind::kMean}})[0].values);

  BatcherOptions options;
  options.max_batch_tokens = 512;
  options.max_wait_us = 20000;
  std::atomic<int64_t> largest{0}, calls{0};
  Batcher batcher(engine, options, [&](const BatchReport& r) {
    ++calls;
    int64_t seen = largest.load();
    while (r.inputs > seen && !largest.compare_exchange_weak(seen, r.inputs)) {
    }
  });
  std::vector<std::thread> clients;
  std::atomic<int> failures{0};
  std::vector<double> worst(8, 0);
  for (int c = 0; c < 8; ++c) {
    clients.emplace_back([&, c] {
      for (int round = 0; round < 3; ++round) {
        std::vector<tasks::EncodedInput> mine;
        std::vector<size_t> ids;
        for (size_t k = 0; k < static_cast<size_t>(1 + (c + round) % 3); ++k) {
          ids.push_back((c * 4 + round + k) % inputs.size());
          mine.push_back(inputs[ids.back()].encoded);
        }
        auto job = batcher.submit(mine, OutputKind::kMean);
        if (!job || !job->wait_until(BatchJob::Clock::now() + std::chrono::seconds(20)) ||
            !job->error().empty()) {
          ++failures;
          continue;
        }
        for (size_t k = 0; k < ids.size(); ++k)
          worst[c] = std::max(worst[c], max_abs_diff(job->outputs()[k].values, expected[ids[k]]));
      }
    });
  }
  for (auto& t : clients) t.join();
  batcher.stop();
  const double max_worst = *std::max_element(worst.begin(), worst.end());
  std::printf("    %lld model calls, largest batch %lld inputs; max |diff| vs alone = %.3e\n",
              static_cast<long long>(calls.load()), static_cast<long long>(largest.load()),
              max_worst);
  EXPECT_EQ(failures.load(), 0);
  EXPECT_GT(largest.load(), 1);  // requests really shared model calls
  EXPECT_LE(max_worst, kTolerance);
}

TEST(DynamicBatcher, FullQueueRefusesAndCancelledJobsAreSkipped) {
  const auto bundle = tiny_bundle();
  auto engine = std::make_shared<InferenceEngine>(bundle, Precision::kFp32);
  const auto inputs = sample_inputs(*bundle, 4);
  BatcherOptions options;
  options.max_queue = 3;
  options.max_wait_us = 300000;  // long enough for the test to act while the job waits
  options.max_batch_tokens = 1 << 20;
  std::atomic<int64_t> ran{0};
  Batcher batcher(engine, options, [&](const BatchReport& r) { ran += r.inputs; });
  auto first = batcher.submit({inputs[0].encoded, inputs[1].encoded}, OutputKind::kCls);
  ASSERT_TRUE(first);
  EXPECT_EQ(batcher.queue_depth(), 2);
  EXPECT_FALSE(batcher.submit({inputs[2].encoded, inputs[3].encoded}, OutputKind::kCls));
  first->cancel();
  auto second = batcher.submit({inputs[2].encoded}, OutputKind::kCls);
  ASSERT_TRUE(second);
  ASSERT_TRUE(second->wait_until(BatchJob::Clock::now() + std::chrono::seconds(10)));
  EXPECT_EQ(second->outputs().size(), 1U);
  EXPECT_EQ(ran.load(), 1);  // the cancelled job's two inputs never ran
  batcher.stop();
  EXPECT_FALSE(batcher.submit({inputs[0].encoded}, OutputKind::kCls));
}

// ---- the batch CLI ----

std::vector<json> read_jsonl(const std::string& path) {
  std::ifstream in(path);
  std::vector<json> out;
  for (std::string line; std::getline(in, line);) out.push_back(json::parse(line));
  return out;
}

double max_abs_diff(const json& a, const json& b) {
  return max_abs_diff(a.get<std::vector<float>>(), b.get<std::vector<float>>());
}

class BatchCli : public ::testing::Test {
 protected:
  void SetUp() override {
    smx::testing::write_model_folder(
        model_dir(), smx::testing::tiny_serving_config(),
        R"({"task": "tiny", "num_outputs": 3, "labels": ["neg", "neu", "pos"], "kind": "classification", "max_seq_len": 48})",
        3);
    std::ofstream input(dir_.file("in.jsonl"));
    const auto sentences = smx::testing::sample_sentences(40, 9);
    for (int i = 0; i < 30; ++i) {
      std::string text = sentences[i];
      for (int k = 0; k < i % 5; ++k) text += " " + sentences[(i + k + 7) % 40];
      json line = {{"id", "doc-" + std::to_string(i)}, {"text", text}};
      if (i % 4 == 3) line["text_pair"] = sentences[39 - i];
      input << line.dump() << "\n";
      if (i == 10) input << "\n";  // blank lines are skipped
    }
  }
  std::string model_dir() const { return dir_.file("model"); }
  std::string in() const { return dir_.file("in.jsonl"); }

  smx::testing::ScratchDir dir_;
};

TEST_F(BatchCli, EmbedBatchedEqualsOneAtATimeInInputOrder) {
  for (const std::string pooling : {"cls", "mean", "tokens"}) {
    const std::string base = "embed --model " + model_dir() + " --input " + in() + " --pooling " +
                             pooling + " --window 7 --output ";
    auto r = run_smx(base + dir_.file("batched.jsonl") + " --max-batch-tokens 256");
    ASSERT_EQ(r.status, 0) << r.output;
    r = run_smx(base + dir_.file("single.jsonl") + " --max-batch-size 1");
    ASSERT_EQ(r.status, 0) << r.output;
    const auto batched = read_jsonl(dir_.file("batched.jsonl"));
    const auto single = read_jsonl(dir_.file("single.jsonl"));
    ASSERT_EQ(batched.size(), 30U);
    ASSERT_EQ(single.size(), 30U);
    double worst = 0;
    for (size_t i = 0; i < batched.size(); ++i) {
      EXPECT_EQ(batched[i]["id"], "doc-" + std::to_string(i));  // input order restored
      EXPECT_EQ(batched[i]["tokens"], single[i]["tokens"]);
      if (pooling == "tokens") {
        ASSERT_EQ(batched[i]["embedding"].size(), batched[i]["tokens"].get<size_t>());
        for (size_t t = 0; t < batched[i]["embedding"].size(); ++t)
          worst =
              std::max(worst, max_abs_diff(batched[i]["embedding"][t], single[i]["embedding"][t]));
      } else {
        ASSERT_EQ(batched[i]["embedding"].size(), 32U);
        worst = std::max(worst, max_abs_diff(batched[i]["embedding"], single[i]["embedding"]));
      }
    }
    std::printf("    smx embed --pooling %s: batched vs --max-batch-size 1 max |diff| = %.3e\n",
                pooling.c_str(), worst);
    EXPECT_LE(worst, kTolerance);
  }
}

TEST_F(BatchCli, ClassifyAndScore) {
  auto r = run_smx("classify --model " + model_dir() + " --input " + in() + " --output " +
                   dir_.file("c.jsonl"));
  ASSERT_EQ(r.status, 0) << r.output;
  const auto classified = read_jsonl(dir_.file("c.jsonl"));
  ASSERT_EQ(classified.size(), 30U);
  for (const auto& line : classified) {
    EXPECT_THAT(std::vector<std::string>({"neg", "neu", "pos"}),
                ::testing::Contains(line["label"].get<std::string>()));
    double total = 0;
    for (const auto& p : line["probabilities"]) total += p.get<double>();
    EXPECT_NEAR(total, 1.0, 1e-5);
    EXPECT_EQ(line["logits"].size(), 3U);
    EXPECT_LE(line["tokens"].get<int>(), 48);  // task.json's max_seq_len
  }
  r = run_smx("score --model " + model_dir() + " --input " + in() +
              " --max-batch-size 1 --output " + dir_.file("s.jsonl"));
  ASSERT_EQ(r.status, 0) << r.output;
  const auto scored = read_jsonl(dir_.file("s.jsonl"));
  ASSERT_EQ(scored.size(), 30U);
  double worst = 0;
  for (size_t i = 0; i < scored.size(); ++i)
    worst = std::max(worst, max_abs_diff(scored[i]["scores"], classified[i]["logits"]));
  std::printf("    score (one at a time) vs classify (batched) logits max |diff| = %.3e\n", worst);
  EXPECT_LE(worst, kTolerance);
}

TEST_F(BatchCli, BadLinesNameTheLineOrBecomeErrorRecords) {
  std::ofstream(dir_.file("bad.jsonl")) << "{\"id\": 1, \"text\": \"a b\"}\n"
                                        << "{\"id\": 2, \"text\": \"c\"}\n"
                                        << "{oops\n"
                                        << "{\"id\": 4, \"text\": 5}\n"
                                        << "{\"id\": 5, \"text\": \"d e f\"}\n";
  auto r = run_smx("embed --model " + model_dir() + " --input " + dir_.file("bad.jsonl") +
                   " --output " + dir_.file("o.jsonl"));
  EXPECT_EQ(r.status, 1);
  EXPECT_THAT(r.output, HasSubstr("bad.jsonl:3: malformed JSON"));
  EXPECT_THAT(r.output, HasSubstr("--skip-bad"));

  r = run_smx("embed --model " + model_dir() + " --input " + dir_.file("bad.jsonl") +
              " --skip-bad --window 2 --output " + dir_.file("o.jsonl"));
  ASSERT_EQ(r.status, 0) << r.output;
  const auto out = read_jsonl(dir_.file("o.jsonl"));
  ASSERT_EQ(out.size(), 5U);
  EXPECT_EQ(out[0]["id"], 1);
  EXPECT_EQ(out[2]["line"], 3);
  EXPECT_THAT(out[2]["error"].get<std::string>(), HasSubstr("malformed JSON"));
  EXPECT_EQ(out[3]["id"], 4);
  EXPECT_THAT(out[3]["error"].get<std::string>(), HasSubstr("'text' must be a string"));
  EXPECT_TRUE(out[4].contains("embedding"));
}

TEST_F(BatchCli, PretrainingFolderEmbedsButCannotClassify) {
  const std::string pretrained = dir_.file("pretrained");
  smx::testing::write_model_folder(pretrained, smx::testing::tiny_serving_config());
  auto r = run_smx("embed --model " + pretrained + " --input " + in() + " --output " +
                   dir_.file("e.jsonl"));
  ASSERT_EQ(r.status, 0) << r.output;
  r = run_smx("classify --model " + pretrained + " --input " + in());
  EXPECT_EQ(r.status, 1);
  EXPECT_THAT(r.output, HasSubstr("has no task.json"));
  r = run_smx("embed --model " + dir_.file("nowhere") + " --input " + in());
  EXPECT_EQ(r.status, 1);
  EXPECT_THAT(r.output, HasSubstr("does not exist"));
}

}  // namespace
}  // namespace smx::serve
