// Fine-tuning at a tiny size: fresh classifier over the init run's encoder, learning a separable
// toy task, 1-output heads for regression and ranking, sweeps, bad inputs caught before training,
// both padding semantics, and the pretrain -> finetune -> evaluate -> predict -> glue round trip
// through the CLI.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "smx/config/model_config.h"
#include "smx/core/error.h"
#include "smx/finetune/finetuner.h"
#include "smx/finetune/task_data.h"
#include "smx/finetune/task_loss.h"
#include "smx/finetune/task_model.h"
#include "smx/io/safetensors.h"
#include "smx/io/text_file.h"
#include "smx/model/model_weights.h"
#include "smx/tasks/score_table.h"
#include "smx/tasks/task_reader.h"
#include "smx/train/pretrainer.h"
#include "support/run_cli.h"
#include "support/scratch_dir.h"
#include "support/test_util.h"
#include "support/tiny_pretraining.h"
#include "support/tiny_tokenizer.h"
#include "support/toy_task.h"

namespace smx::finetune {
namespace {

namespace fs = std::filesystem;
using smx::testing::expect_error_all;
using smx::testing::ScratchDir;
using smx::testing::toy_task;
using ::testing::HasSubstr;

std::string glue_samples() {
  return std::string(SMX_SOURCE_DIR) + "/tests/data/glue";
}
std::string superglue_samples() {
  return std::string(SMX_SOURCE_DIR) + "/tests/data/superglue";
}

// ScratchDir::write with the folders created.
void write(const ScratchDir& dir, const std::string& relative, const std::string& text) {
  fs::create_directories(fs::path(dir.file(relative)).parent_path());
  dir.write(relative, text);
}

// One tiny pre-training run (sparse-mixer-tiny sized, masked padding), made once per process.
const std::string& pretrain_run() {
  static ScratchDir* dir = new ScratchDir();  // kept until exit
  static const std::string run = [] {
    const auto tok = smx::testing::tiny_tokenizer();
    ModelConfig c =
        load_model_config("sparse-mixer-tiny", {"vocab_size=" + std::to_string(tok->vocab_size())});
    // The shared tiny run's options, shorter: 3 steps at lr 1e-3, one eval batch, one thread.
    train::PretrainOptions o = smx::testing::tiny_pretrain_options(*dir, "run");
    o.steps = 3;
    o.learning_rate = 1e-3;
    o.warmup_steps = -1;
    o.eval_batches = 1;
    o.threads = 1;
    o.seed = 0;
    train::pretrain(c, o);
    return o.out_dir;
  }();
  return run;
}

FinetuneOptions options(const std::string& task, const std::string& data, const std::string& out) {
  FinetuneOptions o;
  o.task = task;
  o.data_dir = data;
  o.init = pretrain_run();
  o.out_dir = out;
  o.epochs = 1;
  o.learning_rates = {1e-3};
  o.batch_sizes = {8};
  o.threads = 1;
  o.quiet = true;
  return o;
}

TEST(FinetuneTest, ClassifierIsFreshAndEncoderComesFromTheInitRun) {
  const auto init = resolve_init(pretrain_run());
  const auto model = load_encoder_weights(init.config, init.weights, 3, 7);
  const io::SafetensorsFile file = io::read_safetensors(init.weights);
  std::map<std::string, at::Tensor> stored;
  for (const auto& t : file.tensors) stored[t.name] = t.tensor;
  int compared = 0;
  for (const auto& p : model->named_parameters()) {
    if (p.key().rfind("classification.", 0) == 0) continue;
    ASSERT_TRUE(stored.count(p.key())) << p.key();
    EXPECT_TRUE(torch::equal(p.value(), stored[p.key()])) << p.key();
    ++compared;
  }
  EXPECT_GT(compared, 10);
  // The head: the task's width, drawn from the seed, not the NSP head of the file.
  EXPECT_EQ(stored["classification.kernel"].size(1), 2);
  EXPECT_EQ(model->classification->kernel.size(1), 3);
  const auto fresh = model::make_sparse_mixer(init.config, 7, 3);
  EXPECT_TRUE(torch::equal(model->classification->kernel, fresh->classification->kernel));
  EXPECT_TRUE(torch::equal(model->classification->bias, torch::zeros({3})));
}

TEST(FinetuneTest, LearnsASeparableToyTask) {
  // One tiny run's dev accuracy depends on its seed (classifier init, data order, dropout masks):
  // of six seeds one or two land between 0.78 and 0.86, the rest at 0.94-1.0. So three seeds, and
  // the median must clear 0.85 (a model that does not learn stays near the 0.5 baseline).
  ScratchDir dir;
  std::vector<double> accuracies;
  FinetuneResult r;
  for (const uint64_t seed : {0, 1, 2}) {
    auto o = options("sst-2", toy_task(dir), dir.file("out" + std::to_string(seed)));
    o.epochs = 6;
    o.learning_rates = {3e-3};
    o.batch_sizes = {16};
    o.expert_dropout = 0.0;
    o.seed = seed;
    r = finetune(o);
    accuracies.push_back(r.points[0].dev.at("accuracy"));
    std::printf("    seed %d: toy task dev accuracy %.3f (majority baseline %.3f)\n",
                static_cast<int>(seed), accuracies.back(), r.baseline.at("accuracy"));
  }
  const double accuracy = accuracies.back();  // of the run saved in out2/
  std::sort(accuracies.begin(), accuracies.end());
  EXPECT_GE(accuracies[1], 0.85) << "median of three seeds";
  EXPECT_NEAR(r.baseline.at("accuracy"), 0.5, 1e-9);
  // The saved model reproduces the dev score.
  const auto saved = load_finetuned(dir.file("out2"));
  const auto tok = load_tokenizer_for(saved.config, "", "saved model");
  const auto dev =
      tasks::read_split(tasks::find_task("sst-2"), dir.file("toy"), tasks::Split::kDev);
  const auto outputs = predict(*saved.model, encode_examples(dev, tok, 32), 64, false, at::kCPU);
  EXPECT_NEAR(tasks::evaluate(tasks::find_task("sst-2"), dev, outputs).at("accuracy"), accuracy,
              1e-9);
  // The encoder moved away from the init weights.
  const auto init = resolve_init(pretrain_run());
  model::SparseMixer original(init.config, 2);
  model::load_model_weights(original, init.weights);
  EXPECT_FALSE(torch::equal(saved.model->encoder->named_parameters().begin()->value(),
                            original.encoder->named_parameters().begin()->value()));
}

// The shared training step (train/training_step.h): two accumulated micro-batches of 4 are one
// batch of 8 (reference padding, no dropout, so the two runs see the same rows and numbers).
TEST(FinetuneTest, GradientAccumulationEqualsTheLargerBatch) {
  ScratchDir dir;
  const std::string data = toy_task(dir, 64, 16);
  auto run = [&](int64_t batch, int64_t accum, const std::string& out) {
    auto o = options("sst-2", data, dir.file(out));
    o.overrides = {"padding=reference", "dropout_rate=0", "mixing_dropout_rate=0"};
    o.expert_dropout = 0.0;
    o.batch_sizes = {batch};
    o.grad_accum = accum;
    o.clip_norm = 1.0;
    const auto r = finetune(o);
    EXPECT_EQ(r.points[0].batch_size, 8);
    EXPECT_EQ(r.task_info.at("grad_accum"), accum);
    return load_finetuned(dir.file(out));
  };
  const auto one = run(8, 1, "one"), accumulated = run(4, 2, "accumulated");
  const auto a = one.model->named_parameters(), b = accumulated.model->named_parameters();
  double worst = 0;
  for (const auto& p : a)
    worst = std::max(worst, smx::testing::max_abs_diff(p.value(), b[p.key()]));
  std::printf("    batch 8 vs 2 x 4 accumulated: max |weight diff| %.3g\n", worst);
  EXPECT_LT(worst, 1e-5);
  expect_error_all(
      [&] {
        auto o = options("sst-2", data, dir.file("bad"));
        o.grad_accum = 0;
        finetune(o);
      },
      {"--grad-accum must be >= 1"});
}

TEST(FinetuneTest, RegressionAndRankingHeadsHaveOneOutput) {
  ScratchDir dir;
  for (const auto& [task, data] : std::vector<std::pair<std::string, std::string>>{
           {"sts-b", glue_samples()}, {"copa", superglue_samples()}}) {
    const auto r = finetune(options(task, data, dir.file(task)));
    const auto saved = load_finetuned(dir.file(task));
    EXPECT_EQ(saved.task_info.at("num_outputs"), 1) << task;
    EXPECT_EQ(saved.model->classification->kernel.size(1), 1) << task;
    EXPECT_TRUE(std::isfinite(r.points[0].dev_score)) << task;
  }
  // MSE on the single output, mean over the batch (no second normalisation), plus z-loss.
  model::SparseMixerOutput out;
  out.classification_logits = torch::tensor({0.5f, 2.0f, -1.0f}).reshape({3, 1});
  out.encoder.aux_loss = torch::zeros({2});
  out.encoder.z_loss = torch::tensor({1.0f, 3.0f});
  const auto l =
      task_loss(tasks::find_task("sts-b"), out, torch::tensor({1.0f, 1.0f, 0.0f}), 0.01, 1e-4);
  EXPECT_NEAR(l.task, (0.25 + 1.0 + 1.0) / 3, 1e-6);
  EXPECT_NEAR(l.total.item<double>(), (0.25 + 1.0 + 1.0) / 3 + 4e-4, 1e-6);
  out.classification_logits = torch::tensor({2.0f, 0.0f, 0.0f, 2.0f}).reshape({2, 2});
  const auto ce = task_loss(tasks::find_task("rte"), out, torch::tensor({0.0f, 0.0f}), 0.01, 0);
  EXPECT_NEAR(ce.task, (std::log(1 + std::exp(-2.0)) + std::log(1 + std::exp(2.0))) / 2, 1e-5);
  EXPECT_EQ(ce.correct, 1);
}

TEST(FinetuneTest, SweepKeepsTheBestDevScoreAndWritesEveryPoint) {
  ScratchDir dir;
  auto o = options("sst-2", toy_task(dir, 96, 32), dir.file("out"));
  o.epochs = 2;
  o.learning_rates = {1e-6, 3e-3};
  o.batch_sizes = {8, 16};
  const auto r = finetune(o);
  ASSERT_EQ(r.points.size(), 4u);
  for (const auto& p : r.points) {
    EXPECT_TRUE(fs::exists(p.dir + "/metrics.jsonl")) << p.dir;
    EXPECT_TRUE(fs::exists(p.dir + "/result.json")) << p.dir;
    EXPECT_LE(p.dev_score, r.points[r.best].dev_score);
  }
  EXPECT_TRUE(fs::exists(dir.file("out/sweep/1e-06-8/metrics.jsonl")));
  EXPECT_TRUE(fs::exists(dir.file("out/sweep/0.003-16/metrics.jsonl")));
  const auto info = nlohmann::json::parse(io::read_text_file(dir.file("out/task.json")));
  EXPECT_EQ(info.at("lr").get<double>(), r.points[r.best].learning_rate);
  EXPECT_EQ(info.at("batch").get<int64_t>(), r.points[r.best].batch_size);
  EXPECT_EQ(info.at("dev_score").get<double>(), r.points[r.best].dev_score);
  EXPECT_EQ(info.at("sweep").size(), 4u);
  // The saved weights are the best point's: they reproduce its dev score.
  const auto saved = load_finetuned(dir.file("out"));
  const auto tok = load_tokenizer_for(saved.config, "", "saved model");
  const auto dev =
      tasks::read_split(tasks::find_task("sst-2"), dir.file("toy"), tasks::Split::kDev);
  const auto outputs = predict(*saved.model, encode_examples(dev, tok, 32), 64, false, at::kCPU);
  EXPECT_NEAR(tasks::task_score(tasks::find_task("sst-2"),
                                tasks::evaluate(tasks::find_task("sst-2"), dev, outputs)),
              r.points[r.best].dev_score, 1e-9);
}

TEST(FinetuneTest, BadInputsFailBeforeTrainingNamingFileLineAndField) {
  ScratchDir dir;
  const std::string out = dir.file("out");
  expect_error_all([&] { finetune(options("no-such-task", glue_samples(), out)); },
                   {"no-such-task"});
  write(dir, "bad1/SST-2/train.tsv", "sentence\tlabel\nthe cat\t1\n");
  write(dir, "bad1/SST-2/dev.tsv", "sentence\tmark\nthe cat\t1\n");
  expect_error_all([&] { finetune(options("sst-2", dir.file("bad1"), out)); },
                   {"bad1/SST-2/dev.tsv", "label"});
  write(dir, "bad2/SST-2/train.tsv", "sentence\tlabel\nthe cat\t1\nthe dog\t7\n");
  write(dir, "bad2/SST-2/dev.tsv", "sentence\tlabel\nthe cat\t1\n");
  expect_error_all([&] { finetune(options("sst-2", dir.file("bad2"), out)); },
                   {"bad2/SST-2/train.tsv", "3", "7"});
  write(dir, "bad3/SST-2/train.tsv", "sentence\tlabel\n");
  write(dir, "bad3/SST-2/dev.tsv", "sentence\tlabel\nthe cat\t1\n");
  expect_error_all([&] { finetune(options("sst-2", dir.file("bad3"), out)); },
                   {"bad3/SST-2/train.tsv", "no examples"});
  write(dir, "bad4/COPA/train.jsonl",
        "{\"premise\": \"a\", \"choice1\": \"b\", \"choice2\": \"c\", \"question\": "
        "\"cause\", \"label\": 0, \"idx\": 0}\n{\"premise\": \"a\", \"choice1\": \"b\", "
        "\"question\": \"cause\", \"label\": 0, \"idx\": 1}\n");
  write(dir, "bad4/COPA/val.jsonl",
        "{\"premise\": \"a\", \"choice1\": \"b\", \"choice2\": \"c\", \"question\": "
        "\"cause\", \"label\": 0, \"idx\": 0}\n");
  expect_error_all([&] { finetune(options("copa", dir.file("bad4"), out)); },
                   {"bad4/COPA/train.jsonl", "2", "choice2"});
  EXPECT_FALSE(fs::exists(out));  // nothing started

  // A checkpoint whose vocabulary is not the tokenizer's.
  const auto init = resolve_init(pretrain_run());
  ModelConfig other = init.config;
  other.vocab_size += 10;
  model::save_model_weights(*model::make_sparse_mixer(other, 0), dir.file("other.safetensors"));
  auto o = options("sst-2", glue_samples(), out);
  o.init = dir.file("other.safetensors");
  expect_error_all([&] { finetune(o); }, {"vocab_size", std::to_string(other.vocab_size)});
  // A run folder whose config does not match its weights (architecture keys).
  fs::create_directories(dir.file("mismatch"));
  ModelConfig deeper = init.config;
  deeper.num_layers = 5;
  io::write_file_atomically(dir.file("mismatch/config.json"), deeper.to_json().dump());
  fs::copy_file(init.weights, dir.file("mismatch/model.safetensors"));
  o.init = dir.file("mismatch");
  expect_error_all([&] { finetune(o); }, {"mismatch/model.safetensors", "num_layers"});
  EXPECT_FALSE(fs::exists(out));
}

TEST(FinetuneTest, BothPaddingSemantics) {
  const auto init = resolve_init(pretrain_run());
  const auto tok = smx::testing::tiny_tokenizer();
  const auto examples =
      tasks::read_split(tasks::find_task("rte"), glue_samples(), tasks::Split::kDev);
  const auto data = encode_examples(examples, *tok, 32);
  for (const Padding padding : {Padding::kMasked, Padding::kReference}) {
    ModelConfig c = init.config;
    c.padding = padding;
    const auto batch = make_batch(data, {0, 1}, c, at::kCPU);
    const int64_t longest =
        std::max(data.inputs[0].input_ids.size(), data.inputs[1].input_ids.size());
    EXPECT_EQ(batch.input_ids.size(1), padding == Padding::kMasked ? c.padded_length(longest) : 32);
    const int64_t last = batch.input_ids.index({0, -1}).template item<int64_t>();
    EXPECT_EQ(last == c.pad_id,
              static_cast<int64_t>(data.inputs[0].input_ids.size()) < batch.input_ids.size(1));
    // Per-sequence routing: an example's outputs do not depend on its batch-mates or padding.
    auto model = load_encoder_weights(c, init.weights, 2, 0);
    const auto one = predict(*model, data, 1, false, at::kCPU);
    const auto all = predict(*model, data, 64, false, at::kCPU);
    for (size_t i = 0; i < one.size(); ++i)
      for (size_t k = 0; k < 2; ++k) EXPECT_NEAR(one[i][k], all[i][k], 1e-4);
  }
  ScratchDir dir;
  auto o = options("sst-2", toy_task(dir, 48, 16), dir.file("reference"));
  o.overrides = {"padding=reference"};
  const auto r = finetune(o);
  EXPECT_EQ(load_finetuned(dir.file("reference")).config.padding, Padding::kReference);
  EXPECT_TRUE(std::isfinite(r.points[0].dev_score));
}

TEST(FinetuneTest, CliRoundTripAndGlueTable) {
  ScratchDir dir;
  const std::string run = pretrain_run(), model = dir.file("rte-model");
  auto r = smx::testing::run_smx("finetune --task rte --data " + glue_samples() + " --init " + run +
                                 " --out " + model + " --epochs 2 --batch 4 --lr 1e-3 --threads 1");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("majority-class baseline"));
  EXPECT_TRUE(fs::exists(model + "/config.json"));
  EXPECT_TRUE(fs::exists(model + "/model.safetensors"));
  EXPECT_TRUE(fs::exists(model + "/sweep/0.001-4/metrics.jsonl"));
  r = smx::testing::run_smx("evaluate --task rte --data " + glue_samples() + " --model " + model);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("RTE dev (3 examples): accuracy"));
  r = smx::testing::run_smx("predict --task rte --data " + glue_samples() + " --model " + model +
                            " --out " + dir.file("RTE.tsv"));
  ASSERT_EQ(r.status, 0) << r.output;
  const std::string submission = io::read_text_file(dir.file("RTE.tsv"));
  EXPECT_THAT(submission, HasSubstr("index\tprediction\n"));
  EXPECT_EQ(std::count(submission.begin(), submission.end(), '\n'), 3);  // header + 2 rows
  // A model of another task is refused.
  r = smx::testing::run_smx("evaluate --task sts-b --data " + glue_samples() + " --model " + model);
  EXPECT_NE(r.status, 0);
  EXPECT_THAT(r.output, HasSubstr("does not fit task STS-B"));

  r = smx::testing::run_smx("glue --data " + glue_samples() + " --data " + superglue_samples() +
                            " --tasks rte,cola,copa --init " + run + " --out " + dir.file("glue") +
                            " --epochs 1 --batch 4 --lr 1e-3 --threads 1");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_THAT(
      r.output,
      HasSubstr("| Model | MNLI | QQP | QNLI | SST-2 | CoLA | STS-B | MRPC | RTE | Avg. |"));
  EXPECT_THAT(r.output,
              HasSubstr("| Model | BoolQ | CB | COPA | MultiRC | ReCoRD | RTE | WiC | Avg. |"));
  const auto results = nlohmann::json::parse(io::read_text_file(dir.file("glue/results.json")));
  EXPECT_TRUE(results.at("tasks").contains("cola"));
  EXPECT_TRUE(results.at("tasks").at("cola").at("metrics").contains("mcc"));
  EXPECT_TRUE(results.at("glue_average").is_number());
  EXPECT_TRUE(results.at("superglue_average").is_number());
}

TEST(ScoreTableTest, PaperLayout) {
  std::map<std::string, tasks::TaskMetrics> results = {
      {"mnli-m", {{"accuracy", 0.807}}},
      {"mnli-mm", {{"accuracy", 0.81}}},
      {"mrpc", {{"f1", 0.904}, {"accuracy", 0.863}}},
      {"cola", {{"mcc", 0.5}, {"accuracy", 0.79}}},
      {"cb", {{"accuracy", 0.933}, {"macro_f1", 0.929}}}};
  const std::string glue = tasks::format_score_table(tasks::Benchmark::kGlue, "SM", results);
  EXPECT_THAT(glue,
              HasSubstr("| SM | 80.7 / 81.0 | - | - | - | 50.0 / 79.0 | - | 90.4 / 86.3 | - | "));
  // Average of MNLI (one task), CoLA (MCC) and MRPC ((F1 + acc) / 2).
  const double avg = ((0.807 + 0.81) / 2 + 0.5 + (0.904 + 0.863) / 2) / 3;
  EXPECT_THAT(glue, HasSubstr(fmt::format("| {:.1f} |", 100 * avg)));
  const std::string sg = tasks::format_score_table(tasks::Benchmark::kSuperGlue, "SM", results);
  EXPECT_THAT(sg, HasSubstr("| SM | - | 93.3 / 92.9 | - | - | - | - | - | 93.1 |"));
}

}  // namespace
}  // namespace smx::finetune
