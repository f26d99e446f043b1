// Test helpers: a temporary directory removed on destruction, and deterministic sample text.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace smx::testing {

class ScratchDir {
 public:
  ScratchDir();
  ~ScratchDir();
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  // <dir>/<name>, not created.
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  // Writes bytes to <dir>/<name> and returns the full path.
  std::string write(const std::string& name, const std::string& contents) const;

 private:
  std::filesystem::path path_;
};

// `count` pseudo-English sentences (5-12 words from a fixed word list), reproducible for a seed.
std::vector<std::string> sample_sentences(int count, unsigned seed);

}  // namespace smx::testing
