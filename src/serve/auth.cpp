#include "smx/serve/auth.h"

#include <algorithm>
#include <cctype>
#include <fstream>

#include "smx/core/error.h"

namespace smx::serve {

bool constant_time_equal(std::string_view a, std::string_view b) {
  // Walks the longer string whatever the contents; the length difference joins the verdict.
  const size_t n = std::max(a.size(), b.size());
  unsigned diff = a.size() == b.size() ? 0U : 1U;
  for (size_t i = 0; i < n; ++i) {
    const auto x = static_cast<unsigned char>(i < a.size() ? a[i] : 0);
    const auto y = static_cast<unsigned char>(i < b.size() ? b[i] : 0);
    diff |= static_cast<unsigned>(x ^ y);
  }
  // Keep the compiler from short-circuiting the loop.
  volatile unsigned result = diff;
  return result == 0;
}

void ApiKeys::add(const std::string& key, const std::string& source) {
  if (key.empty()) fail("{}: an API key is empty; give a non-empty key", source);
  for (const char c : key)
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f)
      fail("{}: an API key contains whitespace or a control character; keys are single tokens",
           source);
  keys_.push_back(key);
}

void ApiKeys::add_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) fail("cannot read the API key file '{}'; check the path and its permissions", path);
  std::string line;
  size_t added = 0;
  for (int64_t number = 1; std::getline(in, line); ++number) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t'))
      line.pop_back();
    const size_t start = line.find_first_not_of(" \t");
    if (start == std::string::npos || line[start] == '#') continue;
    add(line.substr(start), path + ":" + std::to_string(number));
    ++added;
  }
  if (added == 0) fail("the API key file '{}' holds no key (one key per line)", path);
}

bool ApiKeys::accepts(std::string_view authorization) const {
  constexpr std::string_view kScheme = "Bearer ";
  if (authorization.size() <= kScheme.size()) return false;
  // The scheme is case-insensitive (RFC 9110); compare it without revealing the key.
  for (size_t i = 0; i < kScheme.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(authorization[i])) !=
        std::tolower(static_cast<unsigned char>(kScheme[i])))
      return false;
  const std::string_view presented = authorization.substr(kScheme.size());
  bool ok = false;
  for (const auto& key : keys_) ok = constant_time_equal(presented, key) || ok;  // no early exit
  return ok;
}

}  // namespace smx::serve
