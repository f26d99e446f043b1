// WordPiece, BERT's tokenizer: normalise, pre-tokenise (include/smx/tokenizer/bert_pretokenizer.h),
// then split each word greedily into the longest vocabulary pieces, continuation pieces carrying
// the prefix "##". A word with a character no piece covers, or longer than
// max_input_chars_per_word characters, becomes the unknown token as a whole.
//
// Special tokens ([CLS], [SEP], [MASK], ...) are found in the raw text before normalisation, also
// when glued to words: "[MASK]ed" is [MASK] followed by the word "ed".
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "smx/tokenizer/bert_pretokenizer.h"

namespace smx {

struct WordPieceConfig {
  bool normalize = true;  // false: tokenizer.json has no normalizer
  BertNormalizerOptions normalizer;
  std::string unk_token = "[UNK]";
  std::string continuing_prefix = "##";
  int max_input_chars_per_word = 100;
  // Matched verbatim (case-sensitive) in the raw text; each must be in the vocabulary.
  std::vector<std::string> special_tokens;
};

class WordPiece {
 public:
  // `pieces[i]` is the piece of id i; `source` names the file(s) for messages. Fails when the
  // unknown token or a special token is not a piece.
  WordPiece(std::vector<std::string> pieces, WordPieceConfig config, std::string source);

  std::vector<int32_t> encode(std::string_view text) const;  // fails on invalid UTF-8
  std::vector<std::string> encode_pieces(std::string_view text) const;
  // Joins pieces with spaces, continuation pieces without their prefix, then removes the spaces
  // Hugging Face's clean-up removes (" ." -> ".", " n't" -> "n't", ...). Fails on ids outside
  // [0, size()).
  std::string decode(const std::vector<int32_t>& ids) const;

  int32_t size() const { return static_cast<int32_t>(pieces_.size()); }
  int32_t piece_to_id(std::string_view piece) const;  // -1 if the vocabulary has no such piece
  const std::string& id_to_piece(int32_t id) const;   // fails outside [0, size())
  int32_t unk_id() const { return unk_id_; }
  const WordPieceConfig& config() const { return config_; }
  const std::string& source() const { return source_; }

 private:
  // Appends the ids of one pre-tokenised word.
  void encode_word(const std::u32string& word, std::vector<int32_t>& ids) const;
  void encode_ids(std::string_view text, std::vector<int32_t>& ids) const;

  std::vector<std::string> pieces_;
  std::unordered_map<std::string, int32_t> ids_;  // a piece listed twice maps to its last id
  WordPieceConfig config_;
  std::string source_;
  int32_t unk_id_ = -1;
  std::vector<std::pair<std::string, int32_t>> specials_;  // longest first
};

}  // namespace smx
