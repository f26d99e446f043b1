#include "smx/io/output_file.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>

#include <sys/stat.h>
#include <unistd.h>

#include "smx/core/error.h"
#include "smx/io/text_file.h"

namespace smx::io {
namespace fs = std::filesystem;

namespace {

bool is_stdio(const std::string& path) {
  return path.empty() || path == "-";
}

}  // namespace

void check_output_is_not_input(const std::string& output, const std::vector<std::string>& inputs,
                               const std::string& output_flag) {
  struct stat out_stat {};
  if (is_stdio(output) || ::stat(output.c_str(), &out_stat) != 0) return;  // new file: no clash
  for (const auto& input : inputs) {
    struct stat in_stat {};
    if (is_stdio(input) || ::stat(input.c_str(), &in_stat) != 0) continue;
    if (in_stat.st_dev == out_stat.st_dev && in_stat.st_ino == out_stat.st_ino)
      fail(
          "{} '{}' is the same file as the input '{}'; writing it would destroy the input. Write "
          "to another path",
          output_flag, output, input);
  }
}

OutputFile::OutputFile(const std::string& path, const std::vector<std::string>& inputs,
                       const std::string& flag) {
  if (is_stdio(path)) return;
  check_output_is_not_input(path, inputs, flag);
  std::error_code ec;
  // Through a symlink the real file is replaced, not the link.
  target_ = fs::exists(path, ec) ? fs::canonical(path, ec).string() : path;
  if (ec) target_ = path;
  if (fs::is_directory(target_, ec)) fail("{} '{}' is a folder; give a file path", flag, path);
  const fs::path parent = fs::path(target_).parent_path();
  temp_ = (parent /
           ("." + fs::path(target_).filename().string() + ".tmp." + std::to_string(::getpid())))
              .string();
  file_.open(temp_, std::ios::binary | std::ios::trunc);
  if (!file_)
    fail("cannot write {} '{}': {} (is its folder there and writable?)", flag, path,
         std::strerror(errno));
}

OutputFile::~OutputFile() {
  if (!temp_.empty() && !committed_) {
    file_.close();
    ::unlink(temp_.c_str());
  }
}

std::ostream& OutputFile::stream() {
  return temp_.empty() ? std::cout : file_;
}

void OutputFile::commit() {
  if (temp_.empty()) {
    check_stdout();
    return;
  }
  file_.flush();
  if (!file_) fail("writing '{}' failed: {}", temp_, std::strerror(errno));
  file_.close();
  fsync_path(temp_, false);
  if (::rename(temp_.c_str(), target_.c_str()) != 0)
    fail("cannot rename '{}' to '{}': {}", temp_, target_, std::strerror(errno));
  committed_ = true;
  const fs::path parent = fs::path(target_).parent_path();
  fsync_path(parent.empty() ? "." : parent.string(), true);
}

void check_stdout() {
  std::cout.flush();
  const bool failed = !std::cout || std::fflush(stdout) != 0 || std::ferror(stdout) != 0;
  if (failed)
    fail("cannot write to standard output ({}); the output is incomplete",
         errno != 0 ? std::strerror(errno) : "stream error");
}

}  // namespace smx::io
