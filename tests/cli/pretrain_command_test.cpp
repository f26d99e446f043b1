// smx pretrain as a process: kill -9 at arbitrary moments never leaves an unreadable checkpoint,
// and SIGTERM stops with a checkpoint that --resume continues.
#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <spawn.h>
#include <sys/wait.h>

#include <nlohmann/json.hpp>

#include "smx/io/checkpoint.h"
#include "smx/io/safetensors.h"
#include "smx/tokenizer/tokenizer.h"
#include "support/run_cli.h"
#include "support/scratch_dir.h"
#include "support/tiny_tokenizer.h"

extern char** environ;

namespace smx {
namespace {

std::vector<std::string> pretrain_args(const smx::testing::ScratchDir& dir, bool resume) {
  std::vector<std::string> args = {SMX_CLI_PATH, "pretrain"};
  if (resume) {
    args.insert(args.end(), {"--resume", dir.file("run")});  // options come from the run folder
  } else {
    args.insert(args.end(), {"--data", dir.file("corpus.txt"), "--steps", "400", "--batch", "4",
                             "--checkpoint-every", "1", "--keep", "2", "--eval-every", "0",
                             "--eval-batches", "1", "--eval-fraction", "0.1", "--threads", "1"});
    const auto vocab = std::to_string(smx::testing::tiny_tokenizer()->vocab_size());
    args.insert(args.end(),
                {"--config", "sparse-mixer-tiny", "--set", "vocab_size=" + vocab, "--tokenizer",
                 smx::testing::tiny_tokenizer()->path(), "--out", dir.file("run")});
  }
  return args;
}

pid_t spawn(const std::vector<std::string>& args) {
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  pid_t pid = -1;
  EXPECT_EQ(posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ), 0);
  posix_spawn_file_actions_destroy(&actions);
  return pid;
}

// The newest checkpoint must load completely: weights, optimizer state, trainer and data state.
int64_t check_latest_is_readable(const std::string& run) {
  io::CheckpointManager manager(run, 2);
  const auto latest = manager.latest();
  if (!latest) return 0;
  const auto contents = io::CheckpointManager::load(*latest);
  EXPECT_FALSE(io::read_safetensors(*latest + "/model.safetensors").tensors.empty());
  EXPECT_FALSE(contents.data_state.empty());
  return contents.step;
}

// Waits (up to a minute, for loaded machines) until the run has a checkpoint past `step`.
void wait_for_checkpoint_after(const std::string& run, int64_t step) {
  for (int i = 0; i < 600; ++i) {
    // Only look at folder names here: the running job may be deleting old checkpoints.
    int64_t newest = 0;
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(run + "/checkpoints", ec)) {
      const std::string name = e.path().filename().string();
      if (name.rfind("step-", 0) == 0)
        newest = std::max<int64_t>(newest, std::stoll(name.substr(5)));
    }
    if (newest > step) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ADD_FAILURE() << "no checkpoint after step " << step << " in " << run;
}

TEST(PretrainCommandTest, KillNineNeverLeavesAnUnreadableCheckpoint) {
  smx::testing::ScratchDir dir;
  dir.write("corpus.txt", smx::testing::numbered_corpus(150));
  std::mt19937 rng(1234);
  int64_t last_step = 0;
  for (int round = 0; round < 5; ++round) {
    const pid_t pid = spawn(pretrain_args(dir, round > 0));
    // Let it get going (past its last checkpoint), then kill it at an arbitrary moment.
    wait_for_checkpoint_after(dir.file("run"), last_step);
    std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 700));
    ::kill(pid, SIGKILL);
    int status = 0;
    ::waitpid(pid, &status, 0);
    const int64_t step = check_latest_is_readable(dir.file("run"));
    std::printf("    round %d: killed, newest checkpoint at step %lld\n", round,
                static_cast<long long>(step));
    EXPECT_GE(step, last_step);  // progress is never lost
    last_step = step;
  }
  EXPECT_GT(last_step, 0);
}

TEST(PretrainCommandTest, SigtermCheckpointsAndResumeFinishes) {
  smx::testing::ScratchDir dir;
  dir.write("corpus.txt", smx::testing::numbered_corpus(150));
  auto args = pretrain_args(dir, false);
  const pid_t pid = spawn(args);
  wait_for_checkpoint_after(dir.file("run"), 0);
  ::kill(pid, SIGTERM);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  const int64_t stopped_at = check_latest_is_readable(dir.file("run"));
  EXPECT_GT(stopped_at, 0);
  // The saved options (data, batch, ...) are reused; only the new step count is given.
  const auto r = smx::testing::run_smx("pretrain --resume " + dir.file("run") + " --steps " +
                                       std::to_string(stopped_at + 3));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_THAT(r.output,
              ::testing::HasSubstr(fmt::format("steps {}..{}", stopped_at, stopped_at + 3)));
}

TEST(PretrainCommandTest, SighupCheckpointsLikeSigterm) {
  smx::testing::ScratchDir dir;
  dir.write("corpus.txt", smx::testing::numbered_corpus(150));
  const pid_t pid = spawn(pretrain_args(dir, false));
  wait_for_checkpoint_after(dir.file("run"), 0);
  ::kill(pid, SIGHUP);  // a closed terminal or ssh session: was death without a checkpoint
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status)) << "killed by signal " << WTERMSIG(status);
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_GT(check_latest_is_readable(dir.file("run")), 0);
}

TEST(PretrainCommandTest, SecondProcessOnTheSameRunFolderIsRefused) {
  smx::testing::ScratchDir dir;
  dir.write("corpus.txt", smx::testing::numbered_corpus(150));
  const pid_t pid = spawn(pretrain_args(dir, false));
  wait_for_checkpoint_after(dir.file("run"), 0);
  const auto r = smx::testing::run_smx("pretrain --resume " + dir.file("run") + " --steps 500");
  ::kill(pid, SIGTERM);
  ::waitpid(pid, nullptr, 0);
  EXPECT_NE(r.status, 0);
  EXPECT_THAT(r.output, ::testing::HasSubstr("is in use by another smx process (pid " +
                                             std::to_string(pid) + ")"));
}

// kill -9, a corrupt newest checkpoint, then --resume: a warning, the older checkpoint, and a
// metrics.jsonl whose train records have each step once.
TEST(PretrainCommandTest, ResumeFallsBackToAnIntactCheckpointWithoutDuplicateRecords) {
  smx::testing::ScratchDir dir;
  dir.write("corpus.txt", smx::testing::numbered_corpus(150));
  auto args = pretrain_args(dir, false);
  args.insert(args.end(), {"--log-every", "1"});
  const pid_t pid = spawn(args);
  wait_for_checkpoint_after(dir.file("run"), 3);
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
  io::CheckpointManager manager(dir.file("run"), 2);
  const std::string newest = *manager.latest();
  {
    const std::string weights = newest + "/model.safetensors";
    std::fstream f(weights, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(std::filesystem::file_size(weights) / 2));
    f.write("\x7f\x7f\x7f\x7f", 4);
  }
  const auto r = smx::testing::run_smx("pretrain --resume " + dir.file("run") + " --stop-after 3");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_THAT(r.output, ::testing::HasSubstr("warning: checkpoint " + newest));
  EXPECT_THAT(r.output, ::testing::HasSubstr("fails its checksum"));
  EXPECT_TRUE(std::filesystem::exists(newest + ".corrupt"));

  std::ifstream in(dir.file("run") + "/metrics.jsonl");
  std::vector<int64_t> steps;
  for (std::string line; std::getline(in, line);) {
    const auto record = nlohmann::json::parse(line);  // every line whole
    if (record["type"] == "train") steps.push_back(record["step"].get<int64_t>());
  }
  ASSERT_FALSE(steps.empty());
  for (size_t i = 1; i < steps.size(); ++i)
    EXPECT_LT(steps[i - 1], steps[i]) << "train record of step " << steps[i] << " repeated";
}

}  // namespace
}  // namespace smx
