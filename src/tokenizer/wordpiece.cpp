#include "smx/tokenizer/wordpiece.h"

#include <algorithm>
#include <utility>

#include "smx/core/error.h"

namespace smx {
namespace {

void replace_all(std::string& text, std::string_view from, std::string_view to) {
  for (std::size_t at = text.find(from); at != std::string::npos; at = text.find(from, at)) {
    text.replace(at, from.size(), to);
    at += to.size();
  }
}

}  // namespace

WordPiece::WordPiece(std::vector<std::string> pieces, WordPieceConfig config, std::string source)
    : pieces_(std::move(pieces)), config_(std::move(config)), source_(std::move(source)) {
  if (pieces_.empty()) fail("{}: the WordPiece vocabulary is empty", source_);
  if (config_.max_input_chars_per_word < 1) {
    fail("{}: max_input_chars_per_word is {}; it must be at least 1", source_,
         config_.max_input_chars_per_word);
  }
  ids_.reserve(pieces_.size());
  for (std::size_t i = 0; i < pieces_.size(); ++i) ids_[pieces_[i]] = static_cast<int32_t>(i);
  unk_id_ = piece_to_id(config_.unk_token);
  if (unk_id_ < 0) {
    fail("{}: the unknown token '{}' is not in the vocabulary; add it or name the right one",
         source_, config_.unk_token);
  }
  for (const auto& token : config_.special_tokens) {
    if (token.empty()) continue;
    const int32_t id = piece_to_id(token);
    if (id < 0) fail("{}: the special token '{}' is not in the vocabulary", source_, token);
    specials_.emplace_back(token, id);
  }
  // Longest first, so that "[MASK]" wins over a special token that is its prefix.
  std::stable_sort(specials_.begin(), specials_.end(),
                   [](const auto& a, const auto& b) { return a.first.size() > b.first.size(); });
}

int32_t WordPiece::piece_to_id(std::string_view piece) const {
  const auto it = ids_.find(std::string(piece));
  return it == ids_.end() ? -1 : it->second;
}

const std::string& WordPiece::id_to_piece(int32_t id) const {
  if (id < 0 || id >= size()) {
    fail("tokenizer {}: id {} is outside the vocabulary [0, {})", source_, id, size());
  }
  return pieces_[static_cast<std::size_t>(id)];
}

void WordPiece::encode_word(const std::u32string& word, std::vector<int32_t>& ids) const {
  const std::size_t n = word.size();
  if (n > static_cast<std::size_t>(config_.max_input_chars_per_word)) {
    ids.push_back(unk_id_);
    return;
  }
  // offsets[k]: byte offset of character k in the word's UTF-8 text.
  const std::string utf8 = code_points_to_utf8(word);
  std::vector<std::size_t> offsets(n + 1, 0);
  for (std::size_t k = 0; k < n; ++k) {
    offsets[k + 1] = offsets[k] + code_points_to_utf8(word.substr(k, 1)).size();
  }
  const std::size_t first = ids.size();
  std::string candidate;
  for (std::size_t start = 0; start < n;) {
    int32_t found = -1;
    std::size_t end = n;
    for (; end > start; --end) {
      candidate.assign(start > 0 ? config_.continuing_prefix : std::string());
      candidate.append(utf8, offsets[start], offsets[end] - offsets[start]);
      if (const auto it = ids_.find(candidate); it != ids_.end()) {
        found = it->second;
        break;
      }
    }
    if (found < 0) {  // one uncovered position makes the whole word unknown
      ids.resize(first);
      ids.push_back(unk_id_);
      return;
    }
    ids.push_back(found);
    start = end;
  }
}

void WordPiece::encode_ids(std::string_view text, std::vector<int32_t>& ids) const {
  const std::u32string chars = utf8_to_code_points(text, "tokenizer " + source_ + ": input text");
  const std::u32string normalized =
      config_.normalize ? bert_normalize(chars, config_.normalizer) : chars;
  for (const auto& word : bert_pre_tokenize(normalized)) encode_word(word, ids);
}

std::vector<int32_t> WordPiece::encode(std::string_view text) const {
  std::vector<int32_t> ids;
  std::size_t segment = 0;  // start of the text not yet encoded
  for (std::size_t at = 0; at < text.size();) {
    const auto match = std::find_if(specials_.begin(), specials_.end(), [&](const auto& s) {
      return text.compare(at, s.first.size(), s.first) == 0;
    });
    if (match == specials_.end()) {
      ++at;
      continue;
    }
    encode_ids(text.substr(segment, at - segment), ids);
    ids.push_back(match->second);
    at += match->first.size();
    segment = at;
  }
  encode_ids(text.substr(segment), ids);
  return ids;
}

std::vector<std::string> WordPiece::encode_pieces(std::string_view text) const {
  std::vector<std::string> pieces;
  for (const auto id : encode(text)) pieces.push_back(id_to_piece(id));
  return pieces;
}

std::string WordPiece::decode(const std::vector<int32_t>& ids) const {
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] < 0 || ids[i] >= size()) {
      fail("tokenizer {}: id {} at position {} is outside the vocabulary [0, {})", source_, ids[i],
           i, size());
    }
  }
  const std::string& prefix = config_.continuing_prefix;
  std::string text;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    const std::string& piece = pieces_[static_cast<std::size_t>(ids[i])];
    if (i == 0) {
      text = piece;
    } else if (!prefix.empty() && piece.compare(0, prefix.size(), prefix) == 0) {
      text.append(piece, prefix.size(), std::string::npos);
    } else {
      text += ' ';
      text += piece;
    }
  }
  // Hugging Face's clean_up_tokenization_spaces (on by default for BERT).
  for (const auto& [from, to] :
       std::initializer_list<std::pair<std::string_view, std::string_view>>{{" .", "."},
                                                                            {" ?", "?"},
                                                                            {" !", "!"},
                                                                            {" ,", ","},
                                                                            {" ' ", "'"},
                                                                            {" n't", "n't"},
                                                                            {" 'm", "'m"},
                                                                            {" 's", "'s"},
                                                                            {" 've", "'ve"},
                                                                            {" 're", "'re"}}) {
    replace_all(text, from, to);
  }
  return text;
}

}  // namespace smx
