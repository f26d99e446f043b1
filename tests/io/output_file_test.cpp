// OutputFile: an output that is one of the inputs is refused (same inode: the same path, a symlink
// or a hard link), and the target changes only when the output is committed.
#include "smx/io/output_file.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "smx/io/text_file.h"
#include "support/scratch_dir.h"
#include "support/test_util.h"

namespace smx::io {
namespace {

namespace fs = std::filesystem;
using smx::testing::expect_error;

TEST(OutputFileTest, RefusesAnOutputThatIsAnInput) {
  smx::testing::ScratchDir dir;
  const std::string input = dir.write("in.jsonl", "{\"text\": \"keep me\"}\n");
  fs::create_symlink(input, dir.file("link.jsonl"));
  fs::create_hard_link(input, dir.file("hard.jsonl"));
  for (const std::string& out :
       {input, dir.file("link.jsonl"), dir.file("hard.jsonl"), dir.file("./in.jsonl")})
    expect_error([&] { OutputFile file(out, {input}); }, "is the same file as the input");
  EXPECT_EQ(read_text_file(input), "{\"text\": \"keep me\"}\n");  // untouched
  EXPECT_NO_THROW(check_output_is_not_input(dir.file("new.jsonl"), {input}));
  EXPECT_NO_THROW(check_output_is_not_input("-", {input}));
}

TEST(OutputFileTest, WritesOnlyOnCommitAndReplacesThroughASymlink) {
  smx::testing::ScratchDir dir;
  const std::string target = dir.write("out.jsonl", "old\n");
  {
    OutputFile file(target, {});
    file.stream() << "half";
    // No commit: an interrupted command leaves the previous output.
  }
  EXPECT_EQ(read_text_file(target), "old\n");
  fs::create_symlink(target, dir.file("link.jsonl"));
  {
    OutputFile file(dir.file("link.jsonl"), {});
    file.stream() << "new\n";
    file.commit();
  }
  EXPECT_TRUE(fs::is_symlink(dir.file("link.jsonl")));  // the link stays a link
  EXPECT_EQ(read_text_file(target), "new\n");
  size_t leftovers = 0;
  for (const auto& entry : fs::directory_iterator(dir.path()))
    leftovers += entry.path().filename().string().find(".tmp.") != std::string::npos;
  EXPECT_EQ(leftovers, 0u);
  expect_error([&] { OutputFile file(dir.path().string(), {}); }, "is a folder");
  expect_error([&] { OutputFile file(dir.file("no/such/folder/out.jsonl"), {}); },
               "cannot write --output");
}

}  // namespace
}  // namespace smx::io
