// Finding a checkpoint's files in a folder, a zip (libzip) or beside a single file, and the
// errors for a missing shard, shards of another step and a zip without a checkpoint.
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "smx/import/checkpoint_files.h"
#include "smx/import/config_inference.h"
#include "smx/import/flax_names.h"
#include "smx/import/reference_params.h"
#include "smx/import/zip_archive.h"
#include "support/scratch_dir.h"
#include "support/test_util.h"

namespace smx::importer {
namespace {

namespace fs = std::filesystem;
using smx::testing::expect_error;
using smx::testing::ScratchDir;

const std::string kFlaxFixtures = std::string(SMX_SOURCE_DIR) + "/tests/import/fixtures";

TEST(CheckpointFilesTest, ParsesTheReferenceNames) {
  CheckpointFile f;
  ASSERT_TRUE(parse_checkpoint_name("replicated_checkpoint_990000", f));
  EXPECT_EQ(f.step, 990000);
  EXPECT_EQ(f.shard, -1);
  ASSERT_TRUE(parse_checkpoint_name("shard-00003-of-00008_checkpoint_12", f));
  EXPECT_EQ(f.shard, 3);
  EXPECT_EQ(f.shard_count, 8);
  EXPECT_EQ(f.step, 12);
  for (const char* bad : {"replicated_checkpoint_", "replicated_checkpoint_12tmp",
                          "shard-00008-of-00008_checkpoint_1", "shard-1-of-2_checkpoint_1",
                          "checkpoint_5", "shard-00000-of-00002_checkpoint_99999999999999999999"})
    EXPECT_FALSE(parse_checkpoint_name(bad, f)) << bad;
}

TEST(CheckpointFilesTest, FolderZipAndSingleFile) {
  const CheckpointFiles folder(kFlaxFixtures + "/sm_tiny");
  EXPECT_EQ(folder.step(), 1000);
  ASSERT_EQ(folder.shards().size(), 2U);
  EXPECT_EQ(folder.shards()[1].name, "shard-00001-of-00002_checkpoint_1000");

  const CheckpointFiles zip(kFlaxFixtures + "/fsm_tiny.zip");
  EXPECT_EQ(zip.step(), 2000);
  EXPECT_EQ(zip.shards().size(), 2U);
  EXPECT_EQ(zip.labels().front(), "fsm_tiny");
  // Entries stored and deflated both read back whole (libzip checks the CRC).
  EXPECT_EQ(zip.read(zip.replicated())->size(), zip.replicated().size);
  EXPECT_EQ(zip.read(zip.shards()[0])->size(), zip.shards()[0].size);

  const CheckpointFiles single(kFlaxFixtures + "/sm_tiny/replicated_checkpoint_1000");
  EXPECT_EQ(single.shards().size(), 2U);  // its siblings
  expect_error(
      [] { CheckpointFiles(kFlaxFixtures + "/sm_tiny/shard-00000-of-00002_checkpoint_1000"); },
      "pass the replicated_checkpoint_1000 file");
}

TEST(CheckpointFilesTest, MissingShardsOtherStepsAndEmptyZips) {
  ScratchDir dir;
  const fs::path sm = dir.path() / "sm";
  fs::copy(kFlaxFixtures + "/sm_tiny", sm);
  // The newest step wins: an older checkpoint beside it is ignored.
  fs::copy_file(sm / "replicated_checkpoint_1000", sm / "replicated_checkpoint_500");
  EXPECT_EQ(CheckpointFiles(sm.string()).step(), 1000);

  fs::rename(sm / "shard-00001-of-00002_checkpoint_1000",
             sm / "shard-00001-of-00002_checkpoint_999");
  expect_error([&] { CheckpointFiles(sm.string()); },
               "missing shard file shard-00001-of-00002_checkpoint_1000");
  expect_error([&] { CheckpointFiles(sm.string()); }, "files from different checkpoints");
  fs::rename(sm / "shard-00000-of-00002_checkpoint_1000",
             sm / "shard-00000-of-00002_checkpoint_999");
  expect_error([&] { CheckpointFiles(sm.string()); }, "the shard files are of step 999");

  expect_error([&] { CheckpointFiles(kFlaxFixtures + "/bad/no_checkpoint.zip"); },
               "no_checkpoint.zip: no replicated_checkpoint_<step> file found");
  expect_error([&] { CheckpointFiles(dir.file("nothing-here")); }, "no such file or folder");
  std::ofstream(dir.file("broken.zip")) << "PK\x03\x04 not really a zip";
  expect_error([&] { CheckpointFiles(dir.file("broken.zip")); }, "cannot open as a zip");
}

TEST(CheckpointFilesTest, ZipEntriesAreReadWithinTheirDeclaredSize) {
  ZipArchive zip(kFlaxFixtures + "/fsm_tiny.zip");
  ASSERT_EQ(zip.entries().size(), 3U);
  const ZipEntry& e = zip.entries()[0];
  expect_error([&] { zip.read(e, e.size - 1); }, "more than the");
  EXPECT_EQ(zip.read(e, e.size).size(), e.size);
}

// Corrupting the replicated file or a shard anywhere: the whole read -> infer -> map path either
// succeeds (a changed weight value) or throws smx::Error; never another exception, never a crash.
TEST(CheckpointFilesTest, CorruptFilesFailCleanlyThroughTheWholeImport) {
  ScratchDir dir;
  const fs::path sm = dir.path() / "sm";
  fs::copy(kFlaxFixtures + "/sm_tiny", sm);
  int ok = 0, errors = 0;
  for (const char* name : {"replicated_checkpoint_1000", "shard-00001-of-00002_checkpoint_1000"}) {
    const std::string path = (sm / name).string();
    std::string original;
    {
      std::ifstream in(path, std::ios::binary);
      original.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
    for (size_t i = 0; i < original.size(); i += 101)
      for (unsigned char x : {0x01, 0x10, 0xff}) {
        std::string bad = original;
        bad[i] = static_cast<char>(bad[i] ^ x);
        std::ofstream(path, std::ios::binary | std::ios::trunc) << bad;
        try {
          const CheckpointFiles files(sm.string());
          const ReferenceParams p = read_reference_params(files);
          const InferredConfig c = infer_config(p, files.labels());
          c.config.validate();
          map_to_smx(p, c.config);
          ++ok;
        } catch (const Error&) {
          ++errors;
        }
      }
    std::ofstream(path, std::ios::binary | std::ios::trunc) << original;
  }
  std::printf("    %d corrupted copies: %d rejected with an error, %d imported (a changed value)\n",
              ok + errors, errors, ok);
  EXPECT_GT(errors, 0);
}

}  // namespace
}  // namespace smx::importer
