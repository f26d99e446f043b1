// Internal: a text file as numbered non-empty lines, UTF-8 BOM and '\r' removed.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace smx::tasks {

struct TextLine {
  int64_t number = 0;  // 1-based line number in the file
  std::string text;
};

// Fails with an smx::Error naming `path` when it cannot be read.
std::vector<TextLine> read_text_lines(const std::string& path);

}  // namespace smx::tasks
