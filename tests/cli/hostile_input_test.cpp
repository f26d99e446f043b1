// What a careless or hostile user can hand the batch and model commands: an output path that is
// the input, a closed stdout, deeply nested JSON, a config claiming a huge vocabulary for a small
// weights file, NaN weights. Each gets a clear error and loses nothing.
#include <cstdio>
#include <filesystem>
#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <torch/torch.h>

#include "smx/io/safetensors.h"
#include "smx/io/text_file.h"
#include "support/model_folder.h"
#include "support/run_cli.h"
#include "support/scratch_dir.h"

namespace smx {
namespace {

namespace fs = std::filesystem;
using smx::testing::run_smx;
using ::testing::HasSubstr;

class HostileInputTest : public ::testing::Test {
 protected:
  void SetUp() override {
    smx::testing::write_model_folder(
        model(), smx::testing::tiny_serving_config(),
        R"({"task": "tiny", "num_outputs": 2, "labels": ["no", "yes"], "kind": "classification"})");
    input_ = dir_.write("in.jsonl", "{\"id\": 1, \"text\": \"a short text\"}\n");
  }
  std::string model() const { return dir_.file("model"); }

  smx::testing::ScratchDir dir_;
  std::string input_;
};

TEST_F(HostileInputTest, OutputOverTheInputIsRefusedAndTheInputKept) {
  fs::create_symlink(input_, dir_.file("link.jsonl"));
  for (const std::string& out : {input_, dir_.file("link.jsonl")}) {
    const auto r = run_smx("embed --model " + model() + " --input " + input_ + " --output " + out);
    EXPECT_NE(r.status, 0) << out;  // was: exit 0 and an empty input file
    EXPECT_THAT(r.output, HasSubstr("is the same file as the input"));
    EXPECT_EQ(io::read_text_file(input_), "{\"id\": 1, \"text\": \"a short text\"}\n");
  }
}

// Runs smx with stdout redirected by `redirect` ("&-": closed, "/dev/full": every write fails with
// ENOSPC) and stderr captured.
smx::testing::CliResult run_with_stdout(const std::string& arguments, const std::string& redirect) {
  smx::testing::CliResult result;
  const std::string command = std::string(SMX_CLI_PATH) + " " + arguments + " 2>&1 >" + redirect;
  FILE* pipe = ::popen(command.c_str(), "r");
  char buffer[4096];
  size_t n = 0;
  while ((n = std::fread(buffer, 1, sizeof(buffer), pipe)) > 0) result.output.append(buffer, n);
  const int status = ::pclose(pipe);
  result.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

TEST_F(HostileInputTest, ClosedOrFullStdoutIsAnErrorNotASilentExit) {
  for (const std::string redirect : {"&-", "/dev/full"}) {
    auto r = run_with_stdout("info --config sparse-mixer-tiny", redirect);
    EXPECT_EQ(r.status, 1) << redirect << ": " << r.output;
    EXPECT_THAT(r.output, HasSubstr("cannot write to standard output"));
    r = run_with_stdout("embed --model " + model() + " --input " + input_, redirect);
    EXPECT_EQ(r.status, 1) << redirect << ": " << r.output;
    EXPECT_THAT(r.output, HasSubstr("cannot write the output"));
  }
}

TEST_F(HostileInputTest, InvalidUtf8AndCorruptOptionsAreNamedForWhatTheyAre) {
  const std::string latin1 = dir_.write("latin1.jsonl", "{\"text\": \"caf\xe9\"}\n");
  auto r = run_smx("embed --model " + model() + " --input " + latin1);
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_THAT(r.output, HasSubstr("latin1.jsonl:1:"));
  EXPECT_THAT(r.output, HasSubstr("not valid UTF-8"));  // was: "malformed JSON"
  fs::create_directories(dir_.file("run"));
  dir_.write("run/options.json", "{\"steps\": 10,");
  r = run_smx("pretrain --resume " + dir_.file("run"));
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_THAT(r.output, HasSubstr(dir_.file("run") + "/options.json: not valid JSON"));
  r = run_smx("info --config " + dir_.path().string());
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_THAT(r.output, HasSubstr("is a folder; give the path of a file"));
}

TEST_F(HostileInputTest, DeepJsonInForwardInputIsAnError) {
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  const std::string in = dir_.write("deep.json", "{\"input_ids\": " + deep + "}");
  const auto r = run_smx("forward --config " + model() + "/config.json --weights " + model() +
                         "/model.safetensors --input " + in + " --out " + dir_.file("o.st"));
  EXPECT_EQ(r.status, 1) << r.output;  // was: SIGSEGV
  EXPECT_THAT(r.output, HasSubstr("JSON nests deeper than 64 levels"));
}

TEST_F(HostileInputTest, ConfigClaimingMoreThanTheFileHoldsFailsBeforeAllocating) {
  auto config = nlohmann::json::parse(io::read_text_file(model() + "/config.json"));
  config["vocab_size"] = 10000000;  // 2.6 GB of embeddings for a file of a few hundred KB
  io::write_file_atomically(model() + "/config.json", config.dump());
  auto r = run_smx("embed --model " + model() + " --input " + input_);
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_THAT(r.output, HasSubstr("cannot hold the"));
  // The same claim in the weights file's own metadata (no config.json).
  fs::remove(model() + "/config.json");
  auto file = io::read_safetensors(model() + "/model.safetensors");
  file.metadata["smx.config"] = config.dump();
  io::write_safetensors(model() + "/model.safetensors", file.tensors, file.metadata);
  r = run_smx("embed --model " + model() + " --input " + input_);
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_THAT(r.output, HasSubstr("cannot hold the"));
}

TEST_F(HostileInputTest, NonFiniteWeightsAreRefusedAndNonFiniteOutputsNeverAnswered) {
  auto file = io::read_safetensors(model() + "/model.safetensors");
  for (auto& t : file.tensors)
    if (t.name == "classification.kernel") t.tensor.fill_(std::nanf(""));
  io::write_safetensors(model() + "/model.safetensors", file.tensors, file.metadata);
  auto r = run_smx("classify --model " + model() + " --input " + input_);
  EXPECT_EQ(r.status, 1) << r.output;  // was: exit 0, null probabilities and a label
  EXPECT_THAT(r.output, HasSubstr("NaN or Inf values in classification.kernel"));
  r = run_smx("classify --allow-nonfinite --model " + model() + " --input " + input_ +
              " --output " + dir_.file("out.jsonl"));
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_THAT(r.output, HasSubstr("non-finite"));
  EXPECT_FALSE(fs::exists(dir_.file("out.jsonl")));  // nothing half-written
}

}  // namespace
}  // namespace smx
