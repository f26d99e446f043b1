// smx::Error: the one exception type the library throws for bad input or misuse.
// Messages say what was wrong, where (file, key, tensor, line) and what to do.
#pragma once

#include <stdexcept>
#include <string>

#include <fmt/format.h>

namespace smx {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

// Throws smx::Error with a fmt-formatted message.
template <typename... Args>
[[noreturn]] void fail(fmt::format_string<Args...> format, Args&&... args) {
  throw Error(fmt::format(format, std::forward<Args>(args)...));
}

}  // namespace smx
