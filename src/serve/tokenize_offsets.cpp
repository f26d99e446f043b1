#include "smx/serve/tokenize_offsets.h"

#include <cctype>

namespace smx::serve {
namespace {

constexpr std::string_view kSpaceMark = "\xE2\x96\x81";  // U+2581, SentencePiece's whitespace

// The piece as text: "▁" back to a space.
std::string surface_of(const std::string& piece) {
  std::string out;
  for (size_t i = 0; i < piece.size();) {
    if (piece.compare(i, kSpaceMark.size(), kSpaceMark) == 0) {
      out += ' ';
      i += kSpaceMark.size();
    } else {
      out += piece[i++];
    }
  }
  return out;
}

// A byte-fallback piece "<0xAB>": its byte.
std::optional<unsigned char> fallback_byte(const std::string& piece) {
  if (piece.size() != 6 || piece.compare(0, 3, "<0x") != 0 || piece[5] != '>') return std::nullopt;
  unsigned value = 0;
  for (size_t i = 3; i < 5; ++i) {
    const char c = piece[i];
    value = value * 16 + static_cast<unsigned>(std::isdigit(static_cast<unsigned char>(c))
                                                   ? c - '0'
                                                   : (c | 0x20) - 'a' + 10);
  }
  return static_cast<unsigned char>(value);
}

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

}  // namespace

std::vector<TokenSpan> token_spans(const Tokenizer& tokenizer, std::string_view text,
                                   bool add_special_tokens) {
  std::vector<TokenSpan> out;
  const auto special = [&](int32_t id) {
    TokenSpan t;
    t.id = id;
    t.text = tokenizer.id_to_piece(id);
    t.special = true;
    return t;
  };
  if (add_special_tokens) out.push_back(special(tokenizer.cls_id()));
  size_t pos = 0;
  for (const int32_t id : tokenizer.encode(text)) {
    TokenSpan t;
    t.id = id;
    const std::string piece = tokenizer.id_to_piece(id);
    t.text = piece;
    if (const auto byte = fallback_byte(piece)) {
      while (pos < text.size() && is_space(text[pos]) &&
             static_cast<unsigned char>(text[pos]) != *byte)
        ++pos;
      if (pos < text.size() && static_cast<unsigned char>(text[pos]) == *byte) {
        t.start = pos;
        t.stop = ++pos;
        t.text = std::string(1, text[*t.start]);
      }
      out.push_back(std::move(t));
      continue;
    }
    std::string surface = surface_of(piece);
    const size_t lead = surface.find_first_not_of(' ');
    surface = lead == std::string::npos ? "" : surface.substr(lead);
    size_t at = pos;
    while (at < text.size() && is_space(text[at])) ++at;
    if (!surface.empty() && id != tokenizer.unk_id() &&
        text.compare(at, surface.size(), surface) == 0) {
      t.start = at;
      t.stop = at + surface.size();
      t.text = std::string(text.substr(at, surface.size()));
      pos = *t.stop;
    }
    out.push_back(std::move(t));
  }
  if (add_special_tokens) out.push_back(special(tokenizer.sep_id()));
  return out;
}

}  // namespace smx::serve
