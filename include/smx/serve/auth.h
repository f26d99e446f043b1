// API keys for `smx serve`: requests carry "Authorization: Bearer KEY"; keys are compared in
// constant time (no early exit on the first differing byte, none across keys) and never logged.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace smx::serve {

class ApiKeys {
 public:
  // Throws smx::Error for an empty key or one with whitespace or control characters.
  void add(const std::string& key, const std::string& source);
  // One key per line; blank lines and lines starting with '#' are skipped. Throws smx::Error
  // naming the file when it cannot be read or holds no key.
  void add_file(const std::string& path);

  bool empty() const { return keys_.empty(); }
  std::size_t size() const { return keys_.size(); }
  // Whether an Authorization header value is "Bearer <one of the keys>".
  bool accepts(std::string_view authorization) const;

 private:
  std::vector<std::string> keys_;
};

// a == b in time that depends on the lengths only.
bool constant_time_equal(std::string_view a, std::string_view b);

}  // namespace smx::serve
