// Tokens of a text with their byte offsets in it, for TEI's /tokenize: each SentencePiece piece is
// matched against the text from where the previous one ended ("▁" standing for the whitespace
// it replaced). Pieces that normalisation changed (or <unk>) get no offsets.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "smx/tokenizer/tokenizer.h"

namespace smx::serve {

struct TokenSpan {
  int64_t id = 0;
  std::string text;  // the text's bytes [start, stop) when aligned, else the piece's surface
  bool special = false;
  std::optional<std::size_t> start, stop;  // byte offsets into the text; none for special tokens
};

// [CLS] pieces [SEP] with `add_special_tokens`, else the pieces alone (the ids the tokenizer
// gives, in order).
std::vector<TokenSpan> token_spans(const Tokenizer& tokenizer, std::string_view text,
                                   bool add_special_tokens);

}  // namespace smx::serve
