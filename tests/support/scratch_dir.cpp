#include "support/scratch_dir.h"

#include <atomic>
#include <fstream>
#include <stdexcept>

#include <unistd.h>

namespace smx::testing {

ScratchDir::ScratchDir() {
  static std::atomic<int> counter{0};
  path_ = std::filesystem::temp_directory_path() /
          ("smx_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
  std::filesystem::remove_all(path_);
  std::filesystem::create_directories(path_);
}

ScratchDir::~ScratchDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::string ScratchDir::write(const std::string& name, const std::string& contents) const {
  const auto file = path_ / name;
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out.write(contents.data(), static_cast<std::streamsize>(contents.size()));
  if (!out) throw std::runtime_error("cannot write " + file.string());
  return file.string();
}

std::vector<std::string> sample_sentences(int count, unsigned seed) {
  static const char* const kWords[] = {
      "the",    "a",      "model", "learns", "mixing", "tokens", "expert",  "routes",
      "sparse", "dense",  "layer", "over",   "many",   "small",  "large",   "quickly",
      "river",  "stone",  "green", "light",  "window", "garden", "music",   "paper",
      "under",  "before", "after", "always", "never",  "simple", "careful", "bright",
      "cat",    "dog",    "runs",  "jumps",  "sleeps", "reads",  "writes",  "sings",
  };
  constexpr unsigned kNumWords = sizeof(kWords) / sizeof(kWords[0]);
  uint64_t state = seed * 0x9E3779B97F4A7C15ULL + 1;
  auto next = [&state]() {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<unsigned>(state >> 33);
  };
  std::vector<std::string> sentences;
  for (int i = 0; i < count; ++i) {
    const unsigned words = 5 + next() % 8;
    std::string s;
    for (unsigned w = 0; w < words; ++w) {
      if (w) s += ' ';
      s += kWords[next() % kNumWords];
    }
    s += '.';
    sentences.push_back(s);
  }
  return sentences;
}

}  // namespace smx::testing
