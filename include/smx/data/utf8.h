// UTF-8 validation for corpus lines.
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

namespace smx {

// Byte offset of the first invalid UTF-8 sequence in `text` (truncated, overlong, surrogate or
// above U+10FFFF), or nullopt if the whole text is valid.
std::optional<std::size_t> find_invalid_utf8(std::string_view text);

}  // namespace smx
