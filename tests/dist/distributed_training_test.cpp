// Multi-process pre-training on localhost (2 ranks, Gloo), through the real `smx` binary:
//  - data parallel: 2 ranks with batch b give the losses of 1 process with batch 2b;
//  - expert parallel: the same with the experts split across the ranks, and a checkpoint written
//    by 2 expert-parallel ranks resumes in 1 process, continuing the same losses;
//  - a rank killed mid-run makes the other fail within the collective timeout, naming itself, and
//    the job resumes from its last checkpoint.
// Dropout is off so that the runs are deterministic; routing groups are single sequences (the
// tiny preset), so no routing group spans examples of two ranks.
#include <algorithm>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <thread>

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <spawn.h>
#include <sys/wait.h>

#include "smx/io/checkpoint.h"
#include "smx/io/safetensors.h"
#include "support/run_cli.h"
#include "support/scratch_dir.h"
#include "support/tiny_tokenizer.h"

extern char** environ;

namespace smx {
namespace {

using smx::testing::shell_quote;
using ::testing::HasSubstr;

// `smx pretrain` flags of a new deterministic tiny run in DIR/<run>.
std::string pretrain_flags(const smx::testing::ScratchDir& dir, const std::string& run, int batch,
                           int steps) {
  if (!std::filesystem::exists(dir.file("corpus.txt")))
    dir.write("corpus.txt", smx::testing::numbered_corpus(120));
  const auto vocab = std::to_string(smx::testing::tiny_tokenizer()->vocab_size());
  return fmt::format(
      "--config sparse-mixer-tiny --set vocab_size={} --set dropout_rate=0 --set "
      "mixing_dropout_rate=0 --set expert_dropout_rate=0 --tokenizer {} --data {} --out {} "
      "--steps {} --batch {} --lr 3e-3 --warmup 2 --log-every 1 --eval-every 0 --eval-batches 1 "
      "--eval-fraction 0.1 --threads 1 --seed 3 --check-replicas-every 1",
      vocab, shell_quote(smx::testing::tiny_tokenizer()->path()),
      shell_quote(dir.file("corpus.txt")), shell_quote(dir.file(run)), steps, batch);
}

// Training losses, in step order, from a run folder's metrics.jsonl (log-every 1).
std::vector<double> losses(const std::string& run) {
  std::vector<double> out;
  std::ifstream in(run + "/metrics.jsonl");
  for (std::string line; std::getline(in, line);) {
    const auto j = nlohmann::json::parse(line);
    if (j["type"] == "train") out.push_back(j["loss"].get<double>());
  }
  return out;
}

double compare(const std::vector<double>& a, const std::vector<double>& b, const char* label) {
  EXPECT_EQ(a.size(), b.size()) << label;
  double worst = 0;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i)
    worst = std::max(worst, std::abs(a[i] - b[i]));
  std::printf("    %-52s %zu steps, max |loss diff| = %.3e\n", label, a.size(), worst);
  return worst;
}

TEST(DistributedTrainingTest, DataParallelMatchesOneProcessWithDoubleBatch) {
  smx::testing::ScratchDir dir;
  const auto one = smx::testing::run_smx("pretrain " + pretrain_flags(dir, "one", 8, 6) +
                                         " --checkpoint-every 0");
  ASSERT_EQ(one.status, 0) << one.output;
  const auto two =
      smx::testing::run_smx("launch --nproc 2 -- smx pretrain " + pretrain_flags(dir, "two", 4, 6) +
                            " --checkpoint-every 0");
  ASSERT_EQ(two.status, 0) << two.output;
  EXPECT_THAT(two.output, HasSubstr("all 2 ranks finished"));
  const auto a = losses(dir.file("one")), b = losses(dir.file("two"));
  ASSERT_EQ(a.size(), 6u);
  EXPECT_LT(compare(a, b, "2 ranks x batch 4 vs 1 process x batch 8:"), 1e-4);
  // Only rank 0 writes: one metrics file, one set of checkpoints, the final weights.
  EXPECT_TRUE(std::filesystem::exists(dir.file("two") + "/model.safetensors"));
}

TEST(DistributedTrainingTest, ExpertParallelMatchesAndResumesOnOneProcess) {
  smx::testing::ScratchDir dir;
  const auto one = smx::testing::run_smx("pretrain " + pretrain_flags(dir, "one", 8, 6) +
                                         " --checkpoint-every 0");
  ASSERT_EQ(one.status, 0) << one.output;
  // Steps 1-3 on 2 ranks, each holding 2 of the 4 experts per MoE layer ...
  const auto first =
      smx::testing::run_smx("launch --nproc 2 -- smx pretrain " + pretrain_flags(dir, "ep", 4, 6) +
                            " --expert-parallel --stop-after 3");
  ASSERT_EQ(first.status, 0) << first.output;
  const std::string ep = dir.file("ep");
  const auto latest = io::CheckpointManager(ep, 3).latest();
  ASSERT_TRUE(latest.has_value());
  // ... whose checkpoint holds every expert in one file ...
  for (const auto& t : io::read_safetensors(*latest + "/model.safetensors").tensors) {
    if (t.name.find("moe.intermediate_kernel") != std::string::npos) {
      EXPECT_EQ(t.tensor.size(0), 4);
    }
  }
  // ... and steps 4-6 in one process with the same global batch.
  const auto second = smx::testing::run_smx("pretrain --resume " + shell_quote(ep) + " --batch 8");
  ASSERT_EQ(second.status, 0) << second.output;
  const auto a = losses(dir.file("one")), b = losses(ep);
  ASSERT_EQ(a.size(), 6u);
  EXPECT_LT(compare(a, b, "2 EP ranks x batch 4 (3 steps) + 1 process x 8:"), 1e-4);
}

TEST(DistributedTrainingTest, ExpertParallelNeedsDivisibleExperts) {
  smx::testing::ScratchDir dir;
  const auto r = smx::testing::run_smx("launch --nproc 3 -- smx pretrain " +
                                       pretrain_flags(dir, "ep3", 2, 2) + " --expert-parallel");
  EXPECT_NE(r.status, 0);
  EXPECT_THAT(r.output, HasSubstr("num_experts = 4 is not divisible by the world size 3"));
}

pid_t spawn_rank(const std::string& command_line, int rank, int port, const std::string& log) {
  const std::vector<std::string> env_vars = {"MASTER_ADDR=127.0.0.1",
                                             "MASTER_PORT=" + std::to_string(port),
                                             "RANK=" + std::to_string(rank),
                                             "WORLD_SIZE=2",
                                             "LOCAL_RANK=" + std::to_string(rank),
                                             "LOCAL_WORLD_SIZE=2"};
  std::vector<std::string> env(env_vars);
  for (char** e = environ; *e != nullptr; ++e) env.emplace_back(*e);
  std::vector<char*> envp;
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::vector<std::string> args = {"/bin/sh", "-c", "exec " + command_line};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  pid_t pid = -1;
  EXPECT_EQ(posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), envp.data()), 0);
  posix_spawn_file_actions_destroy(&actions);
  return pid;
}

std::string read_all(const std::string& path) {
  std::ifstream in(path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

TEST(DistributedTrainingTest, KilledRankEndsTheJobAndItResumes) {
  smx::testing::ScratchDir dir;
  const std::string run = dir.file("run");
  const std::string command = std::string(SMX_CLI_PATH) + " pretrain " +
                              pretrain_flags(dir, "run", 4, 100000) +
                              " --checkpoint-every 2 --keep 2 --dist-timeout 10";
  const int port = 29600 + static_cast<int>(::getpid() % 300);
  const pid_t rank0 = spawn_rank(command, 0, port, dir.file("rank0.log"));
  const pid_t rank1 = spawn_rank(command, 1, port, dir.file("rank1.log"));
  // Wait for a checkpoint, then kill rank 1 without warning.
  const auto start = std::chrono::steady_clock::now();
  int early = 0;
  while (!io::CheckpointManager(run, 2).latest() && ::waitpid(rank0, &early, WNOHANG) == 0 &&
         std::chrono::steady_clock::now() - start < std::chrono::seconds(60))
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  if (!io::CheckpointManager(run, 2).latest()) {
    ::kill(rank0, SIGKILL);
    ::kill(rank1, SIGKILL);
    ::waitpid(rank0, nullptr, 0);
    ::waitpid(rank1, nullptr, 0);
    FAIL() << "no checkpoint within 60 s; rank 0 wrote:\n" << read_all(dir.file("rank0.log"));
  }
  ::kill(rank1, SIGKILL);
  const auto killed = std::chrono::steady_clock::now();
  int status = 0;
  ::waitpid(rank1, &status, 0);
  // Rank 0 must not hang: it fails within the 10 s collective timeout (a reset connection
  // usually ends it at once), saying which rank it is and what went wrong.
  pid_t done = 0;
  while ((done = ::waitpid(rank0, &status, WNOHANG)) == 0 &&
         std::chrono::steady_clock::now() - killed < std::chrono::seconds(25))
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  if (done == 0) {
    ::kill(rank0, SIGKILL);
    ::waitpid(rank0, &status, 0);
    FAIL() << "rank 0 still running 25 s after rank 1 was killed";
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - killed).count();
  std::printf("    rank 0 exited %.2f s after rank 1 was killed\n", seconds);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_NE(WEXITSTATUS(status), 0);
  const std::string log0 = read_all(dir.file("rank0.log"));
  EXPECT_THAT(log0, HasSubstr("rank 0 of 2"));
  EXPECT_THAT(log0, HasSubstr("failed"));

  // The job resumes from its newest checkpoint on 2 ranks again.
  io::CheckpointContents before =
      io::CheckpointManager::load(*io::CheckpointManager(run, 2).latest());
  const auto resumed = smx::testing::run_smx("launch --nproc 2 -- smx pretrain --resume " +
                                             shell_quote(run) + " --stop-after 2");
  ASSERT_EQ(resumed.status, 0) << resumed.output;
  EXPECT_THAT(resumed.output, HasSubstr(fmt::format("steps {}..{}", before.step, before.step + 2)));
}

// Processes whose command line mentions `needle` (the test's scratch folder), other than this one.
std::vector<pid_t> processes_mentioning(const std::string& needle) {
  std::vector<pid_t> pids;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    const pid_t pid = static_cast<pid_t>(std::stol(name));
    if (pid == ::getpid()) continue;
    std::string cmdline = read_all(entry.path().string() + "/cmdline");
    std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
    if (cmdline.find(needle) != std::string::npos) pids.push_back(pid);
  }
  return pids;
}

TEST(DistributedTrainingTest, RanksStopWithCheckpointWhenTheLauncherIsKilled) {
  smx::testing::ScratchDir dir;
  const std::string run = dir.file("orphans");
  const std::string command = "exec " + std::string(SMX_CLI_PATH) + " launch --nproc 2 -- " +
                              SMX_CLI_PATH + " pretrain " +
                              pretrain_flags(dir, "orphans", 2, 100000) +
                              " --checkpoint-every 2 --keep 2 --dist-timeout 10";
  std::vector<std::string> args = {"/bin/sh", "-c", command};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  const std::string log = dir.file("launch.log");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  pid_t launcher = -1;
  ASSERT_EQ(posix_spawn(&launcher, argv[0], &actions, nullptr, argv.data(), environ), 0);
  posix_spawn_file_actions_destroy(&actions);

  const auto start = std::chrono::steady_clock::now();
  while (!io::CheckpointManager(run, 2).latest() &&
         std::chrono::steady_clock::now() - start < std::chrono::seconds(60))
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  const auto before = io::CheckpointManager(run, 2).latest();
  ::kill(launcher, SIGKILL);  // no chance to forward anything
  ::waitpid(launcher, nullptr, 0);
  ASSERT_TRUE(before.has_value()) << "no checkpoint within 60 s:\n" << read_all(log);

  // The ranks get SIGTERM from the kernel (PR_SET_PDEATHSIG), save, and exit.
  const auto killed = std::chrono::steady_clock::now();
  std::vector<pid_t> left;
  while (!(left = processes_mentioning(dir.path().string())).empty() &&
         std::chrono::steady_clock::now() - killed < std::chrono::seconds(60))
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  for (const pid_t pid : left) ::kill(pid, SIGKILL);
  ASSERT_TRUE(left.empty()) << left.size() << " ranks still running 60 s after the launcher died";
  std::printf("    ranks exited %.2f s after the launcher was killed\n",
              std::chrono::duration<double>(std::chrono::steady_clock::now() - killed).count());
  const auto after = io::CheckpointManager(run, 2).latest();
  ASSERT_TRUE(after.has_value());
  // By name: the ranks may have pruned `before` (--keep 2) before they stopped.
  auto step_of = [](const std::string& folder) {
    return std::stoll(std::filesystem::path(folder).filename().string().substr(5));
  };
  EXPECT_GE(io::CheckpointManager::load(*after).step, step_of(*before));
  EXPECT_THAT(read_all(log), HasSubstr("checkpoint:"));  // the stop's own save, not a crash
}

}  // namespace
}  // namespace smx
