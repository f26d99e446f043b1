// Multi-process fine-tuning on localhost (2 ranks, Gloo), through the real `smx` binary, on an
// SST-2-layout toy task over a tiny pre-training run, dropout off everywhere:
//  - data parallel: 2 ranks x batch 4 give the per-step losses and the dev metrics of 1 process x
//    batch 8;
//  - expert parallel: the same, and the saved model holds full expert tensors that `smx evaluate`
//    in one process scores as training did;
//  - `smx glue` on 2 expert-parallel ranks (a sweep, MNLI-m, then MNLI-mm on the MNLI-m model):
//    nothing hangs, rank 0 alone prints and writes.
// The dev set (36 rows, --eval-batch 8) makes 5 batches, so in the last round rank 1 has none.
#include <filesystem>
#include <fstream>
#include <map>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "smx/io/safetensors.h"
#include "smx/io/text_file.h"
#include "support/run_cli.h"
#include "support/scratch_dir.h"
#include "support/tiny_tokenizer.h"
#include "support/toy_task.h"

namespace smx {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using smx::testing::shell_quote;
using ::testing::HasSubstr;

// A tiny deterministic pre-training run DIR/pretrain and the toy task DIR/toy.
struct Inputs {
  std::string run, task;
};

Inputs make_inputs(const smx::testing::ScratchDir& dir) {
  dir.write("corpus.txt", smx::testing::numbered_corpus(60));
  const auto tok = smx::testing::tiny_tokenizer();
  const auto r = smx::testing::run_smx(fmt::format(
      "pretrain --config sparse-mixer-tiny --set vocab_size={} --set dropout_rate=0 --set "
      "mixing_dropout_rate=0 --set expert_dropout_rate=0 --tokenizer {} --data {} --out {} "
      "--steps 3 --batch 4 --lr 1e-3 --log-every 10 --eval-batches 1 --eval-fraction 0.1 "
      "--checkpoint-every 0 --threads 1",
      tok->vocab_size(), shell_quote(tok->path()), shell_quote(dir.file("corpus.txt")),
      shell_quote(dir.file("pretrain"))));
  EXPECT_EQ(r.status, 0) << r.output;
  return {dir.file("pretrain"), smx::testing::toy_task(dir, 192, 36)};
}

// `smx finetune` flags: 3 epochs of 192 examples, global batch 8: 72 steps, dev every 24.
std::string finetune_flags(const Inputs& in, const std::string& out, int batch) {
  return fmt::format(
      "--task sst-2 --data {} --init {} --out {} --epochs 3 --lr 3e-3 --batch {} "
      "--expert-dropout 0 --log-every 1 --eval-every 24 --eval-batch 8 --threads 1 --seed 1 "
      "--check-replicas-every 1",
      shell_quote(in.task), shell_quote(in.run), shell_quote(out), batch);
}

std::vector<json> records(const std::string& metrics, const std::string& type) {
  std::vector<json> out;
  std::ifstream file(metrics);
  for (std::string line; std::getline(file, line);) {
    auto j = json::parse(line);
    if (j["type"] == type) out.push_back(std::move(j));
  }
  return out;
}

// Max |loss diff| over the training records, and every dev record's score equal.
double compare(const std::string& a_dir, const std::string& b_dir, const char* label) {
  const auto a = records(a_dir + "/metrics.jsonl", "train"),
             b = records(b_dir + "/metrics.jsonl", "train");
  EXPECT_EQ(a.size(), b.size()) << label;
  double worst = 0;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) {
    EXPECT_EQ(a[i]["step"], b[i]["step"]) << label;
    worst = std::max(worst, std::abs(a[i]["loss"].get<double>() - b[i]["loss"].get<double>()));
  }
  std::printf("    %-52s %zu steps, max |loss diff| = %.3e\n", label, a.size(), worst);
  const auto ea = records(a_dir + "/metrics.jsonl", "eval"),
             eb = records(b_dir + "/metrics.jsonl", "eval");
  EXPECT_EQ(ea.size(), 3u) << label;  // steps 24, 48 and the end
  EXPECT_EQ(ea.size(), eb.size()) << label;
  std::printf("    dev accuracy by evaluation:");
  for (size_t i = 0; i < std::min(ea.size(), eb.size()); ++i) {
    std::printf(" %.4f / %.4f", ea[i]["accuracy"].get<double>(), eb[i]["accuracy"].get<double>());
    EXPECT_NEAR(ea[i]["accuracy"].get<double>(), eb[i]["accuracy"].get<double>(), 1e-9)
        << label << ", dev evaluation at step " << ea[i]["step"];
  }
  std::printf("\n");
  return worst;
}

// Max |a - b| over every tensor of two model folders' weights (the same names and shapes).
double weight_diff(const std::string& a, const std::string& b) {
  std::map<std::string, at::Tensor> first;
  for (const auto& t : io::read_safetensors(a + "/model.safetensors").tensors)
    first[t.name] = t.tensor;
  double worst = 0;
  for (const auto& t : io::read_safetensors(b + "/model.safetensors").tensors) {
    EXPECT_TRUE(first.count(t.name)) << t.name;
    if (first.count(t.name) == 0) continue;
    EXPECT_EQ(first[t.name].sizes(), t.tensor.sizes()) << t.name;
    if (first[t.name].sizes() == t.tensor.sizes())
      worst = std::max(worst, (first[t.name] - t.tensor).abs().max().item<double>());
  }
  std::printf("    saved weights: max |diff| = %.3e\n", worst);
  return worst;
}

json read_json(const std::string& path) {
  return json::parse(io::read_text_file(path));
}

int count_files(const std::string& root, const std::string& name) {
  int n = 0;
  for (const auto& e : fs::recursive_directory_iterator(root))
    n += e.path().filename() == name ? 1 : 0;
  return n;
}

size_t count(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

TEST(DistributedFinetuneTest, DataParallelMatchesOneProcessWithDoubleBatch) {
  smx::testing::ScratchDir dir;
  const Inputs in = make_inputs(dir);
  const auto one = smx::testing::run_smx("finetune " + finetune_flags(in, dir.file("one"), 8));
  ASSERT_EQ(one.status, 0) << one.output;
  const auto two = smx::testing::run_smx("launch --nproc 2 -- smx finetune " +
                                         finetune_flags(in, dir.file("two"), 4));
  ASSERT_EQ(two.status, 0) << two.output;
  EXPECT_THAT(two.output, HasSubstr("all 2 ranks finished"));
  EXPECT_EQ(count(two.output, "majority-class baseline"), 1u);  // rank 0 alone prints
  const std::string a = dir.file("one/sweep/0.003-8"), b = dir.file("two/sweep/0.003-8");
  EXPECT_LT(compare(a, b, "finetune 2 ranks x batch 4 vs 1 process x batch 8:"), 1e-4);
  // Only rank 0 wrote: one metrics.jsonl holding each step once, the global batch and W recorded.
  EXPECT_EQ(count_files(dir.file("two"), "metrics.jsonl"), 1);
  EXPECT_EQ(records(b + "/metrics.jsonl", "train").size(), 72u);
  const json task = read_json(dir.file("two/task.json"));
  EXPECT_EQ(task.at("batch"), 8);
  EXPECT_EQ(task.at("ranks"), 2);
  EXPECT_EQ(read_json(b + "/result.json").at("ranks"), 2);
  EXPECT_EQ(read_json(dir.file("one/task.json")).at("ranks"), 1);
  EXPECT_EQ(task.at("dev_score"), read_json(dir.file("one/task.json")).at("dev_score"));
  EXPECT_LT(weight_diff(dir.file("one"), dir.file("two")), 1e-4);
}

TEST(DistributedFinetuneTest, ExpertParallelMatchesAndSavesFullExperts) {
  smx::testing::ScratchDir dir;
  const Inputs in = make_inputs(dir);
  const auto one = smx::testing::run_smx("finetune " + finetune_flags(in, dir.file("one"), 8));
  ASSERT_EQ(one.status, 0) << one.output;
  const std::string ep = dir.file("ep");
  const auto two = smx::testing::run_smx("launch --nproc 2 -- smx finetune " +
                                         finetune_flags(in, ep, 4) + " --expert-parallel");
  ASSERT_EQ(two.status, 0) << two.output;
  EXPECT_LT(compare(dir.file("one/sweep/0.003-8"), ep + "/sweep/0.003-8",
                    "finetune 2 EP ranks x batch 4 vs 1 process x batch 8:"),
            1e-4);
  int experts = 0;
  for (const auto& t : io::read_safetensors(ep + "/model.safetensors").tensors) {
    if (t.name.find("moe.") != std::string::npos && t.name.find("router") == std::string::npos) {
      EXPECT_EQ(t.tensor.size(0), 4) << t.name;  // every expert, not this rank's 2
      ++experts;
    }
  }
  EXPECT_EQ(experts, 8);  // 2 MoE layers x 2 kernels + 2 biases
  EXPECT_LT(weight_diff(dir.file("one"), ep), 1e-4);
  // One process scores the saved model as the 2 ranks did.
  const auto eval = smx::testing::run_smx("evaluate --task sst-2 --data " + shell_quote(in.task) +
                                          " --model " + shell_quote(ep) + " --threads 1");
  ASSERT_EQ(eval.status, 0) << eval.output;
  const double accuracy = read_json(ep + "/task.json").at("dev").at("accuracy").get<double>();
  std::printf("    EP dev accuracy %.4f; smx evaluate: %s", accuracy, eval.output.c_str());
  EXPECT_THAT(eval.output, HasSubstr(fmt::format("accuracy {:.4f}", accuracy)));
}

TEST(DistributedFinetuneTest, GlueOnTwoExpertParallelRanksWritesOnceOnRankZero) {
  smx::testing::ScratchDir dir;
  const Inputs in = make_inputs(dir);
  const std::string glue = dir.file("glue");
  const auto r = smx::testing::run_smx(fmt::format(
      "launch --nproc 2 -- smx glue --data {} --data {} --tasks sst-2,mnli-m,mnli-mm --init {} "
      "--out {} --epochs 1 --lr 1e-3,3e-3 --batch 4 --expert-dropout 0 --eval-every -1 "
      "--log-every 1 --eval-batch 8 --threads 1 --expert-parallel",
      shell_quote(in.task), shell_quote(std::string(SMX_SOURCE_DIR) + "/tests/data/glue"),
      shell_quote(in.run), shell_quote(glue)));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("all 2 ranks finished"));
  EXPECT_EQ(count(r.output, "| Model | MNLI |"), 1u);
  EXPECT_EQ(count(r.output, "== SST-2"), 1u);
  // 2 sweep points x 2 trained tasks, each written once, with the global batch in its name.
  EXPECT_EQ(count_files(glue, "metrics.jsonl"), 4);
  for (const std::string task : {"sst-2", "mnli-m"}) {
    for (const std::string point : {"0.001-8", "0.003-8"}) {
      const std::string folder = glue + "/" + task + "/sweep/" + point;
      const json result = read_json(folder + "/result.json");
      EXPECT_EQ(result.at("ranks"), 2) << folder;
      EXPECT_EQ(records(folder + "/metrics.jsonl", "train").size(),
                result.at("steps").get<size_t>())
          << folder;
    }
  }
  const json results = read_json(glue + "/results.json");
  for (const char* task : {"sst-2", "mnli-m", "mnli-mm"})
    EXPECT_TRUE(results.at("tasks").contains(task)) << task;
}

}  // namespace
}  // namespace smx
