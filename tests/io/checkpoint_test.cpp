// Checkpoints defend themselves: a corrupt or edited newest checkpoint is detected (manifest sizes
// and CRC-32, trainer.json step) and resuming falls back to the newest intact one; a run folder is
// locked against a second writer.
#include "smx/io/checkpoint.h"

#include <filesystem>
#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "smx/io/run_lock.h"
#include "smx/io/text_file.h"
#include "support/scratch_dir.h"
#include "support/test_util.h"

namespace smx::io {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

CheckpointContents contents(int64_t step) {
  CheckpointContents c;
  c.step = step;
  c.weights = {{"w", torch::full({64}, static_cast<float>(step))}};
  c.optimizer = {{"m", torch::zeros({64})}};
  c.trainer = {{"step", step}, {"elapsed_s", 1.5}};
  c.data_state = "{\"position\": " + std::to_string(step) + "}";
  return c;
}

void flip_byte(const std::string& path, std::streamoff offset) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  f.seekg(offset);
  char b = 0;
  f.get(b);
  f.seekp(offset);
  f.put(static_cast<char>(b ^ 0x40));
}

TEST(CheckpointTest, FallsBackFromACorruptNewestCheckpoint) {
  smx::testing::ScratchDir dir;
  CheckpointManager manager(dir.path().string(), 3);
  const std::string first = manager.save(contents(10));
  const std::string second = manager.save(contents(20));
  EXPECT_EQ(CheckpointManager::verify(second), "");
  EXPECT_TRUE(fs::exists(second + "/manifest.json"));

  flip_byte(second + "/model.safetensors", fs::file_size(second + "/model.safetensors") - 3);
  std::vector<std::string> skipped;
  const auto intact = manager.latest_intact(/*quarantine=*/true, &skipped);
  ASSERT_TRUE(intact.has_value());
  EXPECT_EQ(*intact, first);
  ASSERT_EQ(skipped.size(), 1u);
  std::printf("    skipped: %s\n", skipped[0].c_str());
  EXPECT_THAT(skipped[0], HasSubstr("model.safetensors fails its checksum"));
  EXPECT_TRUE(fs::exists(second + ".corrupt"));  // kept for inspection, no longer "latest"
  EXPECT_EQ(*manager.latest(), first);
  EXPECT_EQ(CheckpointManager::load(first).step, 10);
}

TEST(CheckpointTest, EditedOrTruncatedFilesAreDetected) {
  smx::testing::ScratchDir dir;
  CheckpointManager manager(dir.path().string(), 5);
  const std::string folder = manager.save(contents(30));
  // A step edited in trainer.json: negative, fractional, huge. The manifest catches the edit; a
  // checkpoint without a manifest (written before manifests) is still checked by its step.
  for (const std::string step : {"-5", "2.5", "1000000000000", "\"30\""}) {
    write_file_atomically(folder + "/trainer.json", "{\"step\": " + step + "}");
    EXPECT_THAT(CheckpointManager::verify(folder), HasSubstr("trainer.json"));
  }
  fs::remove(folder + "/manifest.json");
  write_file_atomically(folder + "/trainer.json", "{\"step\": 1000000000000}");
  EXPECT_THAT(CheckpointManager::verify(folder),
              HasSubstr("trainer.json says step 1000000000000 but the folder is step 30"));
  smx::testing::expect_error([&] { CheckpointManager::load(folder); }, "resume from another");
  write_file_atomically(folder + "/trainer.json", "{\"step\": 2.5}");
  EXPECT_THAT(CheckpointManager::verify(folder), HasSubstr("no integer \"step\""));

  const std::string next = manager.save(contents(40));
  fs::resize_file(next + "/optimizer.safetensors", 10);
  EXPECT_THAT(CheckpointManager::verify(next), HasSubstr("optimizer.safetensors has 10 bytes"));
  const std::string last = manager.save(contents(50));
  fs::remove(last + "/data.json");
  EXPECT_THAT(CheckpointManager::verify(last), HasSubstr("data.json is missing"));
  std::vector<std::string> skipped;
  EXPECT_FALSE(manager.latest_intact(false, &skipped).has_value());
  EXPECT_EQ(skipped.size(), 3u);
  EXPECT_TRUE(fs::exists(next));  // without quarantine nothing is renamed
}

TEST(RunLockTest, SecondHolderIsRefusedUntilTheFirstReleases) {
  smx::testing::ScratchDir dir;
  {
    RunLock first(dir.path().string());
    smx::testing::expect_error([&] { RunLock second(dir.path().string()); },
                               "is in use by another smx process (pid ");
  }
  EXPECT_NO_THROW(RunLock again(dir.path().string()));
}

}  // namespace
}  // namespace smx::io
