// write_file_atomically / read_text_file / fsync_path: contents round-trip byte for byte, a rewrite
// replaces the file whole and leaves no temporary file behind, and failures name the path.
#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "smx/io/text_file.h"
#include "support/scratch_dir.h"
#include "support/test_util.h"

namespace smx::io {
namespace {

namespace fs = std::filesystem;

// Every entry of `dir`, by name.
std::vector<std::string> entries(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

TEST(TextFileTest, RoundTripsBytesAndReplacesWholeFiles) {
  smx::testing::ScratchDir dir;
  const std::string path = dir.file("config.json");
  const std::string first = std::string("{\"a\": 1}\n\0binary\xff tail", 22);
  write_file_atomically(path, first);
  EXPECT_EQ(read_text_file(path), first);
  write_file_atomically(path, "short");  // shorter than before: nothing of the old file may remain
  EXPECT_EQ(read_text_file(path), "short");
  write_file_atomically(path, "");
  EXPECT_EQ(read_text_file(path), "");
  EXPECT_EQ(entries(dir.path()), std::vector<std::string>{"config.json"});  // no .tmp left over
}

TEST(TextFileTest, FailuresNameThePath) {
  smx::testing::ScratchDir dir;
  const std::string missing_dir = dir.file("no/such/folder/out.json");
  smx::testing::expect_error([&] { write_file_atomically(missing_dir, "x"); }, missing_dir);
  EXPECT_FALSE(fs::exists(dir.file("no")));
  const std::string missing = dir.file("missing.txt");
  smx::testing::expect_error([&] { read_text_file(missing); }, "cannot open '" + missing + "'");
  smx::testing::expect_error([&] { fsync_path(missing, false); }, missing);
  fsync_path(dir.path().string(), true);  // a folder syncs
}

}  // namespace
}  // namespace smx::io
