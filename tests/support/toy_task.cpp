#include "support/toy_task.h"

#include <filesystem>

namespace smx::testing {
namespace {

void write(const ScratchDir& dir, const std::string& relative, const std::string& text) {
  std::filesystem::create_directories(std::filesystem::path(dir.file(relative)).parent_path());
  dir.write(relative, text);
}

}  // namespace

std::string toy_task(const ScratchDir& dir, int train_rows, int dev_rows) {
  const auto sentences = sample_sentences(train_rows + dev_rows, 11);
  std::string train = "sentence\tlabel\n", dev = train;
  for (int i = 0; i < train_rows + dev_rows; ++i) {
    std::string s;
    int words = 0;
    for (size_t start = 0; start < sentences[i].size();) {
      size_t end = sentences[i].find_first_of(" .", start);
      if (end == std::string::npos) end = sentences[i].size();
      const std::string w = sentences[i].substr(start, end - start);
      if (!w.empty() && w != "cat" && w != "dog") {
        if (words == 2) s += (i % 2 ? "cat " : "dog ");
        s += w + " ";
        ++words;
      }
      start = end + 1;
    }
    if (words < 3) s += (i % 2 ? "cat" : "dog");
    (i < train_rows ? train : dev) += s + "\t" + std::to_string(i % 2) + "\n";
  }
  write(dir, "toy/SST-2/train.tsv", train);
  write(dir, "toy/SST-2/dev.tsv", dev);
  write(dir, "toy/SST-2/test.tsv", "index\tsentence\n0\tthe cat runs\n1\tthe dog runs\n");
  return dir.file("toy");
}

}  // namespace smx::testing
