#include "tasks/text_lines.h"

#include <fstream>
#include <sstream>

#include "smx/core/error.h"
#include "smx/core/utf8.h"

namespace smx::tasks {

std::vector<TextLine> read_text_lines(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("{}: cannot open the file; check the path and permissions", path);
  std::ostringstream buffer;
  buffer << in.rdbuf();
  std::string data = buffer.str();
  if (data.compare(0, 3, "\xEF\xBB\xBF") == 0) data.erase(0, 3);  // UTF-8 BOM (MRPC)

  std::vector<TextLine> lines;
  int64_t number = 0;
  size_t start = 0;
  while (start < data.size()) {
    size_t end = data.find('\n', start);
    if (end == std::string::npos) end = data.size();  // last line without a newline
    ++number;
    size_t stop = end;
    if (stop > start && data[stop - 1] == '\r') --stop;  // CRLF
    if (stop > start) {
      lines.push_back({number, data.substr(start, stop - start)});
      check_text_line(lines.back().text, path, number);
    }
    start = end + 1;
  }
  return lines;
}

}  // namespace smx::tasks
