// Hugging Face's text handling around a SentencePiece model, as FNet's and ALBERT's tokenizers do
// it (FNetTokenizer is adapted from AlbertTokenizer): the text is cut at special tokens, each
// part is preprocessed, encoded by SentencePiece, and pieces "<digits>," are split before the
// comma. Used for a spiece.model imported from a Hugging Face folder; models trained by
// `smx tokenizer train` are never preprocessed (docs/importing.md, "FNet tokenization").
//
// Preprocessing, in order:
//   remove_space   strip the text and collapse every run of whitespace to one space
//   (always)       `` and '' become "
//   keep_accents   false: NFKD, then drop every character with a non-zero combining class
//   do_lower_case  lower-case (full Unicode mapping)
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace smx {

struct HfSentencePieceConfig {
  // FNetTokenizer's defaults; AlbertTokenizer lower-cases and strips accents.
  bool do_lower_case = false;
  bool remove_space = true;
  bool keep_accents = true;
  std::string unk = "<unk>", pad = "<pad>", cls = "[CLS]", sep = "[SEP]", mask = "[MASK]";
  std::string tokenizer_class;  // as tokenizer_config.json names it ("" when absent)
};

// The Hugging Face settings for the SentencePiece model at `model_path`, or nullopt for a plain
// (smx-trained) model. Read from the tokenizer_config.json beside the model when it names
// FNetTokenizer / AlbertTokenizer (or their Fast forms) or sets remove_space / keep_accents;
// a model file named spiece.model without such a file gets FNet's defaults. Fails naming the
// file and key on a malformed tokenizer_config.json.
std::optional<HfSentencePieceConfig> find_hf_sentencepiece_config(const std::string& model_path);

// The preprocessing above. Fails on invalid UTF-8.
std::string hf_preprocess_text(std::string_view text, const HfSentencePieceConfig& config);

// FNet/ALBERT's comma rule: a piece longer than one character that ends in ',' after a decimal
// digit is re-encoded without the comma (and without '▁'), the leading '▁' of the result dropped
// when the original piece had none, and ',' appended. `encode_pieces` is SentencePiece's.
std::vector<std::string> hf_split_digit_commas(
    const std::vector<std::string>& pieces,
    const std::function<std::vector<std::string>(const std::string&)>& encode_pieces);

// A part of the text: either a special token (special = true, text = the token) or ordinary text.
struct HfTextPart {
  std::string text;
  bool special = false;
};

// Cuts `text` at every occurrence of one of `specials` (longest match first, case-sensitive),
// left to right; empty ordinary parts are dropped.
std::vector<HfTextPart> hf_split_special_tokens(std::string_view text,
                                                const std::vector<std::string>& specials);

}  // namespace smx
