// UTF-8 validation for corpus lines.
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

namespace smx {

// Byte offset of the first invalid UTF-8 sequence in `text` (truncated, overlong, surrogate or
// above U+10FFFF), or nullopt if the whole text is valid.
std::optional<std::size_t> find_invalid_utf8(std::string_view text);

// Fails with "<file>:<line>: ..." when `text` (one line of a text input) holds a NUL byte or is not
// valid UTF-8, naming the byte offset and what to do (Latin-1 files: convert with iconv).
void check_text_line(std::string_view text, std::string_view file, long long line);

}  // namespace smx
