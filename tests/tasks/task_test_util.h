// Helpers for the task tests: sample data paths, scratch files, error expectations.
#pragma once

#include <atomic>
#include <filesystem>
#include <fstream>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include "smx/core/error.h"

namespace smx::tasks::testing {

inline std::string glue_samples() {
  return std::string(SMX_SOURCE_DIR) + "/tests/data/glue";
}
inline std::string superglue_samples() {
  return std::string(SMX_SOURCE_DIR) + "/tests/data/superglue";
}

// A scratch directory removed on destruction.
class ScratchDir {
 public:
  ScratchDir() {
    static std::atomic<int> counter{0};
    const auto* test = ::testing::UnitTest::GetInstance()->current_test_info();
    path_ = std::filesystem::temp_directory_path() /
            ("smx-tasks-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) +
             "-" + test->test_suite_name() + "." + test->name());
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~ScratchDir() { std::filesystem::remove_all(path_); }
  // Writes `text` to <dir>/<relative> (folders created) and returns the root.
  std::string write(const std::string& relative, const std::string& text) const {
    const auto file = path_ / relative;
    std::filesystem::create_directories(file.parent_path());
    std::ofstream(file, std::ios::binary) << text;
    return path_.string();
  }
  std::string root() const { return path_.string(); }

 private:
  std::filesystem::path path_;
};

// Expects `body` to throw smx::Error whose message contains every needle.
template <typename F>
void expect_error(F body, std::initializer_list<std::string> needles) {
  try {
    body();
    ADD_FAILURE() << "expected an smx::Error";
  } catch (const Error& e) {
    for (const std::string& n : needles) EXPECT_THAT(e.what(), ::testing::HasSubstr(n));
  }
}

}  // namespace smx::tasks::testing
