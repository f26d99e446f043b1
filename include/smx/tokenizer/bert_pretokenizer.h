// BERT's text normaliser and pre-tokeniser, the two steps before WordPiece, with Hugging Face's
// semantics (BertNormalizer and BertPreTokenizer of `tokenizers`; BasicTokenizer of transformers).
// Unicode data (categories, NFD, lower-case mappings) comes from utf8proc.
//
// Text is handled as code points (std::u32string): WordPiece counts and slices characters.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace smx {

struct BertNormalizerOptions {
  bool clean_text = true;            // drop NUL, U+FFFD and C* characters; whitespace -> ' '
  bool handle_chinese_chars = true;  // put spaces around CJK ideographs
  bool lowercase = true;             // per-code-point lower-case mapping
  // NFD and drop nonspacing marks (Mn); nullopt follows `lowercase`, as Hugging Face does.
  std::optional<bool> strip_accents;

  bool strips_accents() const { return strip_accents.value_or(lowercase); }
};

// UTF-8 <-> code points. decode fails naming `source` and the byte offset on invalid UTF-8.
std::u32string utf8_to_code_points(std::string_view text, std::string_view source);
std::string code_points_to_utf8(std::u32string_view text);

// Character classes as BERT defines them.
bool bert_is_whitespace(char32_t c);   // \t \n \r and the Unicode White_Space characters
bool bert_is_control(char32_t c);      // category C*, except \t \n \r
bool bert_is_punctuation(char32_t c);  // ASCII 33-47, 58-64, 91-96, 123-126, or category P*
bool bert_is_cjk_ideograph(char32_t c);

// Applies the steps in Hugging Face's order: clean, CJK spacing, strip accents, lower-case.
std::u32string bert_normalize(std::u32string_view text, const BertNormalizerOptions& options);

// Splits on whitespace (dropped) and makes each punctuation character a word of its own.
std::vector<std::u32string> bert_pre_tokenize(std::u32string_view text);

}  // namespace smx
