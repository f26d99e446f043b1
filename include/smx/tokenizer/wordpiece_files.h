// Reading a BERT WordPiece tokenizer from Hugging Face's files:
//   vocab.txt         one piece per line, the id being the line number (from 0);
//   tokenizer.json    `tokenizers` format: model.type "WordPiece", a BertNormalizer (or none) and
//                     a BertPreTokenizer; added_tokens become special tokens;
//   tokenizer_config.json, read when it sits beside either file: do_lower_case (default true),
//                     strip_accents, tokenize_chinese_chars (vocab.txt only: tokenizer.json has its
//                     own normalizer) and the names of the unk/pad/cls/sep/mask tokens.
#pragma once

#include <string>

#include "smx/tokenizer/wordpiece.h"

namespace smx {

// Names of BERT's special tokens (defaults are BERT's; tokenizer_config.json can rename them).
struct BertSpecialTokens {
  std::string unk = "[UNK]", pad = "[PAD]", cls = "[CLS]", sep = "[SEP]", mask = "[MASK]";
};

struct LoadedWordPiece {
  WordPiece model;
  BertSpecialTokens specials;
};

// `path` names a vocab.txt (any name ending in .txt) or a tokenizer.json (ending in .json).
// Fails naming the file, line or key on a malformed file or an unsupported normalizer,
// pre-tokenizer or model type.
LoadedWordPiece load_wordpiece(const std::string& path);

}  // namespace smx
