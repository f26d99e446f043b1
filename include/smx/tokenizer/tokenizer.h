// Tokenizer: a SentencePiece model or a BERT WordPiece vocabulary, plus the special ids the
// pre-training and fine-tuning inputs need.
//
// Models trained by Tokenizer::train have fixed, documented ids:
//   0 <pad>, 1 <unk>, 2 <s> (bos), 3 </s> (eos), 4 [CLS], 5 [SEP], 6 [MASK], then the learned
//   pieces.
// Models trained elsewhere (e.g. the reference c4_bpe_sentencepiece.model) are accepted as long as
// they define a pad id and the pieces [CLS], [SEP] and [MASK]; their ids are read from the model.
//
// WordPiece (Hugging Face BERT's vocab.txt or tokenizer.json, include/smx/tokenizer/wordpiece.h)
// needs the pieces [PAD], [UNK], [CLS], [SEP] and [MASK] (or the names tokenizer_config.json
// gives); it has no bos/eos (-1).
//
// A SentencePiece model from a Hugging Face folder (FNet's or ALBERT's spiece.model) gets their
// text handling (include/smx/tokenizer/hf_sentencepiece.h): special tokens cut out of the raw
// text, whitespace, quote, accent and case preprocessing, the "<digits>," split; its special
// tokens are named by the tokenizer_config.json beside it ([CLS], [SEP], [MASK], <pad>, <unk>).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace smx::detail {
class SentencePieceBackend;
}

namespace smx {

class WordPiece;
struct HfSentencePieceConfig;

struct TokenizerTrainOptions {
  std::vector<std::string> input_files;  // plain text, one sentence per line
  int vocab_size = 32000;
  std::string model_type = "bpe";      // unigram | bpe | char | word
  std::string output_path;             // the .model file to write (parent directory must exist)
  double character_coverage = 0.9995;  // share of characters the vocabulary must cover
  int64_t input_sentence_size = 0;     // sample at most this many sentences; 0 = use all
  uint32_t seed = 0;                   // seeds SentencePiece's sentence sampling
  int num_threads = 1;                 // > 1 can make unigram training non-deterministic
  // false lets SentencePiece produce fewer pieces than vocab_size when the text is too small.
  bool hard_vocab_limit = false;
};

class Tokenizer {
 public:
  // Ids of models produced by train().
  static constexpr int32_t kTrainedPadId = 0;
  static constexpr int32_t kTrainedUnkId = 1;
  static constexpr int32_t kTrainedBosId = 2;
  static constexpr int32_t kTrainedEosId = 3;
  static constexpr int32_t kTrainedClsId = 4;
  static constexpr int32_t kTrainedSepId = 5;
  static constexpr int32_t kTrainedMaskId = 6;

  enum class Kind { kSentencePiece, kWordPiece };

  // `path` is a SentencePiece model (any file not named below), a WordPiece vocabulary (a file
  // ending in .txt, e.g. vocab.txt, or in .json, e.g. tokenizer.json), or a folder holding one
  // (tokenizer.json, then vocab.txt, then spiece.model, then a single *.model). Throws
  // smx::Error if the path is missing, the file is malformed, or it lacks a special token.
  static Tokenizer load(const std::string& path);
  // Trains a model with the fixed ids above and writes it to options.output_path.
  static void train(const TokenizerTrainOptions& options);

  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;
  ~Tokenizer();

  std::vector<int32_t> encode(std::string_view text) const;
  std::vector<std::string> encode_pieces(std::string_view text) const;
  std::string decode(const std::vector<int32_t>& ids) const;  // throws on ids outside [0, V)
  std::string id_to_piece(int32_t id) const;
  int32_t piece_to_id(const std::string& piece) const;  // -1 if the vocabulary has no such piece

  Kind kind() const { return wordpiece_ ? Kind::kWordPiece : Kind::kSentencePiece; }
  // The Hugging Face preprocessing of a SentencePiece model, or null (smx-trained, WordPiece).
  const HfSentencePieceConfig* hf_sentencepiece() const { return hf_text_.get(); }
  // The WordPiece model (its vocabulary and normaliser settings), or null for SentencePiece.
  const WordPiece* wordpiece() const { return wordpiece_.get(); }

  int32_t vocab_size() const { return vocab_size_; }
  int32_t pad_id() const { return pad_id_; }
  int32_t unk_id() const { return unk_id_; }
  int32_t bos_id() const { return bos_id_; }  // -1 if the model has none
  int32_t eos_id() const { return eos_id_; }  // -1 if the model has none
  int32_t cls_id() const { return cls_id_; }
  int32_t sep_id() const { return sep_id_; }
  int32_t mask_id() const { return mask_id_; }
  const std::string& path() const { return path_; }  // the file loaded (inside a folder given)

 private:
  Tokenizer();

  std::unique_ptr<detail::SentencePieceBackend> backend_;  // SentencePiece, behind a module
  std::unique_ptr<WordPiece> wordpiece_;                   // set instead of backend_ for BERT
  std::unique_ptr<HfSentencePieceConfig> hf_text_;         // with backend_, for HF folders
  std::string path_;
  int32_t vocab_size_ = 0;
  int32_t pad_id_ = -1, unk_id_ = -1, bos_id_ = -1, eos_id_ = -1;
  int32_t cls_id_ = -1, sep_id_ = -1, mask_id_ = -1;
};

}  // namespace smx
