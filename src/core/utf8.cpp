#include "smx/core/utf8.h"

#include <cstdint>

#include "smx/core/error.h"

namespace smx {

std::optional<std::size_t> find_invalid_utf8(std::string_view text) {
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const std::size_t n = text.size();
  std::size_t i = 0;
  while (i < n) {
    const unsigned char c = s[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t len;
    uint32_t cp;
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2, cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3, cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4, cp = c & 0x07;
    } else {
      return i;  // continuation byte without a lead, 0xC0/0xC1 (overlong) or 0xF5..0xFF
    }
    if (i + len > n) return i;
    for (std::size_t k = 1; k < len; ++k) {
      if ((s[i + k] & 0xC0) != 0x80) return i;
      cp = (cp << 6) | (s[i + k] & 0x3F);
    }
    const bool overlong = (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000);
    if (overlong || (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) return i;
    i += len;
  }
  return std::nullopt;
}

void check_text_line(std::string_view text, std::string_view file, long long line) {
  if (const auto nul = text.find('\0'); nul != std::string_view::npos)
    fail("{}:{}: NUL byte at byte {} of the line (binary content); the input must be UTF-8 text",
         file, line, nul);
  if (const auto bad = find_invalid_utf8(text))
    fail(
        "{}:{}: byte {} of the line is not valid UTF-8 (0x{:02x}); the input must be UTF-8 text. "
        "A Latin-1 file converts with `iconv -f latin1 -t utf-8`",
        file, line, *bad, static_cast<unsigned>(static_cast<unsigned char>(text[*bad])));
}

}  // namespace smx
