#include "smx/tokenizer/bert_pretokenizer.h"

#include <utf8proc.h>

#include <cstdint>

#include "smx/core/error.h"

namespace smx {
namespace {

bool in_category_group(char32_t c, char group) {
  const char* name = utf8proc_category_string(static_cast<utf8proc_int32_t>(c));
  return name && name[0] == group;
}

// NFD, then drop nonspacing marks (category Mn): "é" -> "e".
std::u32string strip_accents(std::u32string_view text) {
  const std::string utf8 = code_points_to_utf8(text);
  std::vector<utf8proc_int32_t> buffer(utf8.size() + 4);
  for (;;) {
    const auto n =
        utf8proc_decompose(reinterpret_cast<const utf8proc_uint8_t*>(utf8.data()),
                           static_cast<utf8proc_ssize_t>(utf8.size()), buffer.data(),
                           static_cast<utf8proc_ssize_t>(buffer.size()), UTF8PROC_DECOMPOSE);
    if (n < 0) fail("BERT normaliser: NFD failed: {}", utf8proc_errmsg(n));
    if (static_cast<std::size_t>(n) <= buffer.size()) {
      buffer.resize(static_cast<std::size_t>(n));
      break;
    }
    buffer.resize(static_cast<std::size_t>(n));
  }
  std::u32string out;
  out.reserve(buffer.size());
  for (const auto c : buffer) {
    if (utf8proc_category(c) != UTF8PROC_CATEGORY_MN) out.push_back(static_cast<char32_t>(c));
  }
  return out;
}

}  // namespace

std::u32string utf8_to_code_points(std::string_view text, std::string_view source) {
  std::u32string out;
  out.reserve(text.size());
  const auto* bytes = reinterpret_cast<const utf8proc_uint8_t*>(text.data());
  std::size_t i = 0;
  while (i < text.size()) {
    utf8proc_int32_t c = 0;
    const auto n = utf8proc_iterate(bytes + i, static_cast<utf8proc_ssize_t>(text.size() - i), &c);
    if (n <= 0 || c < 0) {
      fail("{}: the text is not valid UTF-8 at byte {}; convert it to UTF-8 first", source, i);
    }
    out.push_back(static_cast<char32_t>(c));
    i += static_cast<std::size_t>(n);
  }
  return out;
}

std::string code_points_to_utf8(std::u32string_view text) {
  std::string out;
  out.reserve(text.size());
  utf8proc_uint8_t buffer[4];
  for (const char32_t c : text) {
    const auto n = utf8proc_encode_char(static_cast<utf8proc_int32_t>(c), buffer);
    out.append(reinterpret_cast<const char*>(buffer), static_cast<std::size_t>(n));
  }
  return out;
}

bool bert_is_whitespace(char32_t c) {
  // Unicode's White_Space property (what `tokenizers` tests), which includes category Zs.
  return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F ||
         c == 0x3000;
}

bool bert_is_control(char32_t c) {
  if (c == U'\t' || c == U'\n' || c == U'\r') return false;
  return in_category_group(c, 'C');
}

bool bert_is_punctuation(char32_t c) {
  // ASCII symbols such as $ + < = > ^ ` | ~ are not Unicode punctuation, but BERT splits them too.
  if ((c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) ||
      (c >= 123 && c <= 126)) {
    return true;
  }
  return in_category_group(c, 'P');
}

bool bert_is_cjk_ideograph(char32_t c) {
  // The CJK Unified Ideographs blocks and their extensions, plus the compatibility ideographs;
  // not Hiragana, Katakana or Hangul, which are written with spaces.
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) ||
         (c >= 0x20000 && c <= 0x2A6DF) || (c >= 0x2A700 && c <= 0x2B73F) ||
         (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B820 && c <= 0x2CEAF) ||
         (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

std::u32string bert_normalize(std::u32string_view text, const BertNormalizerOptions& options) {
  std::u32string out;
  out.reserve(text.size());
  for (const char32_t c : text) {
    if (options.clean_text) {
      if (c == 0 || c == 0xFFFD || bert_is_control(c)) continue;
      if (bert_is_whitespace(c)) {
        out.push_back(U' ');
        continue;
      }
    }
    if (options.handle_chinese_chars && bert_is_cjk_ideograph(c)) {
      out.push_back(U' ');
      out.push_back(c);
      out.push_back(U' ');
      continue;
    }
    out.push_back(c);
  }
  if (options.strips_accents()) out = strip_accents(out);
  if (options.lowercase) {
    for (auto& c : out)
      c = static_cast<char32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(c)));
  }
  return out;
}

std::vector<std::u32string> bert_pre_tokenize(std::u32string_view text) {
  std::vector<std::u32string> words;
  std::u32string word;
  auto flush = [&] {
    if (!word.empty()) words.push_back(std::move(word));
    word.clear();
  };
  for (const char32_t c : text) {
    if (bert_is_whitespace(c)) {
      flush();
    } else if (bert_is_punctuation(c)) {
      flush();
      words.emplace_back(1, c);
    } else {
      word.push_back(c);
    }
  }
  flush();
  return words;
}

}  // namespace smx
