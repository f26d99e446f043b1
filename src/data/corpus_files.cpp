#include "smx/data/corpus_files.h"

#include <glob.h>

#include <filesystem>
#include <fstream>

#include "smx/core/error.h"

namespace smx {
namespace fs = std::filesystem;
namespace {

bool has_glob_characters(const std::string& s) {
  return s.find_first_of("*?[") != std::string::npos;
}

void expand_one(const std::string& entry, const std::string& where, std::vector<std::string>& out) {
  std::error_code ec;
  if (!has_glob_characters(entry) || fs::is_regular_file(entry, ec)) {
    out.push_back(entry);  // checked (exists, readable) when the corpus opens it
    return;
  }
  glob_t g{};
  const int rc = glob(entry.c_str(), GLOB_ERR, nullptr, &g);
  std::vector<std::string> matches;
  if (rc == 0) {
    for (std::size_t i = 0; i < g.gl_pathc; ++i) {
      if (fs::is_regular_file(g.gl_pathv[i], ec)) matches.emplace_back(g.gl_pathv[i]);
    }
  }
  globfree(&g);
  if (rc == GLOB_ABORTED) fail("{}: a folder of the pattern '{}' cannot be read", where, entry);
  if (matches.empty()) {
    fail("{}: no file matches the pattern '{}'; check the path (quote it so the shell leaves it)",
         where, entry);
  }
  out.insert(out.end(), matches.begin(), matches.end());  // glob() sorts them
}

}  // namespace

std::vector<std::string> expand_corpus_files(const std::vector<std::string>& entries) {
  std::vector<std::string> out;
  for (const auto& entry : entries) {
    if (entry.size() > 1 && entry[0] == '@') {
      const std::string list = entry.substr(1);
      std::ifstream in(list);
      if (!in) fail("corpus file list {} cannot be opened; check the path after '@'", list);
      const fs::path folder = fs::path(list).parent_path();
      std::string line;
      uint64_t number = 0;
      while (std::getline(in, line)) {
        ++number;
        if (!line.empty() && line.back() == '\r') line.pop_back();
        const auto first = line.find_first_not_of(" \t");
        if (first == std::string::npos || line[first] == '#') continue;
        const auto last = line.find_last_not_of(" \t");
        std::string path = line.substr(first, last - first + 1);
        if (fs::path(path).is_relative()) path = (folder / path).string();
        expand_one(path, list + ":" + std::to_string(number), out);
      }
      continue;
    }
    expand_one(entry, "--data", out);
  }
  if (out.empty()) fail("the corpus file list is empty; pass text or JSON Lines files to --data");
  return out;
}

}  // namespace smx
