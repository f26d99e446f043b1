#include "smx/tokenizer/tokenizer.h"

#include <filesystem>
#include <fstream>
#include <unordered_map>

#include "smx/core/error.h"
#include "smx/core/json.h"
#include "smx/core/utf8.h"
#include "smx/io/output_file.h"
#include "smx/io/text_file.h"
#include "smx/tokenizer/hf_sentencepiece.h"
#include "smx/tokenizer/wordpiece.h"
#include "smx/tokenizer/wordpiece_files.h"
#include "tokenizer/sentencepiece_backend.h"

namespace smx {
namespace {

constexpr const char* kCls = "[CLS]";
constexpr const char* kSep = "[SEP]";
constexpr const char* kMask = "[MASK]";

// Looks up a user-defined special piece; PieceToId answers unk for pieces the model lacks.
int32_t special_piece_id(const detail::SentencePieceBackend& sp, const char* piece,
                         const std::string& path) {
  const int id = sp.piece_to_id(piece);
  if (id < 0 || id == sp.unk_id() || sp.id_to_piece(id) != piece) {
    fail(
        "tokenizer {}: the model has no piece {}; train it with `smx tokenizer train` (which adds "
        "[CLS], [SEP] and [MASK]) or add the piece as a user-defined symbol",
        path, piece);
  }
  return id;
}

// SentencePiece would train on Latin-1 bytes or NULs silently; the corpus must be UTF-8 text.
void check_text_file(const std::string& file) {
  std::ifstream in(file, std::ios::binary);
  std::string line;
  long long number = 0;
  while (std::getline(in, line)) check_text_line(line, file, ++number);
  if (in.bad()) fail("tokenizer training: reading {} failed at line {}", file, number + 1);
}

namespace fs = std::filesystem;

bool has_suffix(const std::string& text, std::string_view suffix) {
  return text.size() >= suffix.size() &&
         text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// WordPiece files are named by their extension; any other file is taken as SentencePiece, as
// before WordPiece existed.
bool is_wordpiece_file(const std::string& path) {
  return has_suffix(path, ".txt") || has_suffix(path, ".json");
}

// Whether a folder's tokenizer.json describes a WordPiece model (FNet folders hold a Unigram
// tokenizer.json beside the spiece.model that smx reads instead).
bool is_wordpiece_json(const std::string& file) {
  const auto j = parse_json(io::read_text_file(file), file);
  return j.is_object() && j.contains("model") && j["model"].is_object() &&
         j["model"].contains("type") && j["model"]["type"] == "WordPiece";
}

// The tokenizer file that `path` names: the path itself, or the file chosen inside a folder.
std::string resolve_tokenizer_file(const std::string& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    const fs::path dir(path);
    auto file = [&](const char* name) { return (dir / name).string(); };
    if (fs::is_regular_file(file("tokenizer.json"), ec) &&
        is_wordpiece_json(file("tokenizer.json")))
      return file("tokenizer.json");
    for (const char* name : {"vocab.txt", "spiece.model"}) {
      if (fs::is_regular_file(file(name), ec)) return file(name);
    }
    std::vector<std::string> models;
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
      if (entry.is_regular_file(ec) && entry.path().extension() == ".model") {
        models.push_back(entry.path().string());
      }
    }
    if (models.size() == 1) return models.front();
    fail(
        "tokenizer {}: the folder holds no WordPiece tokenizer.json, vocab.txt, spiece.model or "
        "single .model file{}; pass the tokenizer file itself",
        path, models.size() > 1 ? " (it holds several .model files)" : "");
  }
  if (!fs::is_regular_file(path, ec)) {
    fail(
        "tokenizer {}: no such file; pass the .model file written by `smx tokenizer train`, a BERT "
        "vocab.txt or tokenizer.json, or a folder holding one",
        path);
  }
  return path;
}

// The id of a special token a WordPiece vocabulary must hold.
int32_t wordpiece_special_id(const WordPiece& wp, const std::string& token, const char* role) {
  const int32_t id = wp.piece_to_id(token);
  if (id < 0) {
    fail(
        "tokenizer {}: the vocabulary has no {} token '{}'; BERT vocabularies hold [PAD], [UNK], "
        "[CLS], [SEP] and [MASK] (tokenizer_config.json may name others)",
        wp.source(), role, token);
  }
  return id;
}

}  // namespace

Tokenizer::Tokenizer() = default;
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;
Tokenizer::~Tokenizer() = default;

Tokenizer Tokenizer::load(const std::string& given_path) {
  const std::string path = resolve_tokenizer_file(given_path);
  Tokenizer tok;
  tok.path_ = path;
  if (is_wordpiece_file(path)) {
    auto loaded = load_wordpiece(path);
    tok.wordpiece_ = std::make_unique<WordPiece>(std::move(loaded.model));
    const WordPiece& wp = *tok.wordpiece_;
    tok.vocab_size_ = wp.size();
    tok.unk_id_ = wp.unk_id();
    tok.pad_id_ = wordpiece_special_id(wp, loaded.specials.pad, "pad");
    tok.cls_id_ = wordpiece_special_id(wp, loaded.specials.cls, "cls");
    tok.sep_id_ = wordpiece_special_id(wp, loaded.specials.sep, "sep");
    tok.mask_id_ = wordpiece_special_id(wp, loaded.specials.mask, "mask");
    return tok;
  }
  tok.backend_ = detail::make_sentencepiece_backend();
  if (const auto error = tok.backend_->load(path); !error.empty()) {
    fail(
        "tokenizer {}: not a valid SentencePiece model ({}); the file is corrupt or of another "
        "kind, re-train it with `smx tokenizer train`",
        path, error);
  }
  const auto& sp = *tok.backend_;
  tok.vocab_size_ = sp.piece_size();
  tok.pad_id_ = sp.pad_id();
  tok.unk_id_ = sp.unk_id();
  tok.bos_id_ = sp.bos_id();
  tok.eos_id_ = sp.eos_id();
  if (auto hf = find_hf_sentencepiece_config(path)) {
    tok.hf_text_ = std::make_unique<HfSentencePieceConfig>(std::move(*hf));
    const HfSentencePieceConfig& c = *tok.hf_text_;
    // The model may define no pad id of its own: the named pad piece is then the pad.
    if (tok.pad_id_ < 0) tok.pad_id_ = tok.piece_to_id(c.pad);
    tok.cls_id_ = special_piece_id(sp, c.cls.c_str(), path);
    tok.sep_id_ = special_piece_id(sp, c.sep.c_str(), path);
    tok.mask_id_ = special_piece_id(sp, c.mask.c_str(), path);
    if (tok.pad_id_ < 0)
      fail("tokenizer {}: the model defines no pad id and has no piece '{}' (pad_token)", path,
           c.pad);
    return tok;
  }
  if (tok.pad_id_ < 0) {
    fail(
        "tokenizer {}: the model defines no pad id; train it with pad_id=0 "
        "(`smx tokenizer train` does)",
        path);
  }
  tok.cls_id_ = special_piece_id(sp, kCls, path);
  tok.sep_id_ = special_piece_id(sp, kSep, path);
  tok.mask_id_ = special_piece_id(sp, kMask, path);
  return tok;
}

void Tokenizer::train(const TokenizerTrainOptions& options) {
  if (options.input_files.empty()) fail("tokenizer training: no input files given; pass --input");
  std::string inputs;
  for (const auto& file : options.input_files) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(file, ec)) {
      fail("tokenizer training: input {} does not exist or is not a file", file);
    }
    if (std::filesystem::file_size(file, ec) == 0) {
      fail("tokenizer training: input {} is empty; give it text, one sentence per line", file);
    }
    // SentencePiece takes a comma-separated list of inputs.
    if (file.find(',') != std::string::npos) {
      fail(
          "tokenizer training: input path {} contains a comma, which SentencePiece cannot "
          "take; rename the file",
          file);
    }
    check_text_file(file);
    if (!inputs.empty()) inputs += ',';
    inputs += file;
  }
  if (options.output_path.empty()) fail("tokenizer training: no output path given; pass --out");
  io::check_output_is_not_input(options.output_path, options.input_files, "--out");
  if (options.vocab_size < 8) {
    fail("tokenizer training: vocab size {} is too small; it must hold 7 special pieces plus text",
         options.vocab_size);
  }
  const auto& type = options.model_type;
  if (type != "unigram" && type != "bpe" && type != "char" && type != "word") {
    fail("tokenizer training: unknown model type '{}'; use unigram, bpe, char or word", type);
  }
  if (!(options.character_coverage > 0.0 && options.character_coverage <= 1.0)) {
    fail("tokenizer training: character coverage {} must be in (0, 1]", options.character_coverage);
  }
  if (options.input_sentence_size < 0 || options.num_threads < 1) {
    fail("tokenizer training: input sentence size must be >= 0 and threads >= 1");
  }

  const std::unordered_map<std::string, std::string> kwargs = {
      {"input", inputs},
      {"model_type", type},
      {"vocab_size", std::to_string(options.vocab_size)},
      {"character_coverage", fmt::format("{}", options.character_coverage)},
      {"input_sentence_size", std::to_string(options.input_sentence_size)},
      {"shuffle_input_sentence", "true"},
      {"num_threads", std::to_string(options.num_threads)},
      {"hard_vocab_limit", options.hard_vocab_limit ? "true" : "false"},
      {"pad_id", std::to_string(kTrainedPadId)},
      {"unk_id", std::to_string(kTrainedUnkId)},
      {"bos_id", std::to_string(kTrainedBosId)},
      {"eos_id", std::to_string(kTrainedEosId)},
      // User-defined symbols follow the control ids in order: [CLS]=4, [SEP]=5, [MASK]=6.
      {"user_defined_symbols", fmt::format("{},{},{}", kCls, kSep, kMask)},
      {"minloglevel", "2"},  // SentencePiece logs every step to stderr otherwise
  };
  // Training into a string (no model_prefix) writes no <prefix>.model/.vocab; we write output_path.
  std::string model;
  const auto error = detail::make_sentencepiece_backend()->train(kwargs, options.seed, &model);
  if (!error.empty()) {
    fail(
        "tokenizer training on {} failed: {}; check the inputs and options (a vocab size larger "
        "than the text supports needs hard_vocab_limit=false)",
        inputs, error);
  }
  io::write_file_atomically(options.output_path, model);
}

std::vector<int32_t> Tokenizer::encode(std::string_view text) const {
  if (wordpiece_) return wordpiece_->encode(text);
  if (hf_text_) {
    std::vector<int32_t> ids;
    // SentencePiece's PieceToId answers the unknown id for a piece outside the vocabulary.
    for (const auto& piece : encode_pieces(text)) ids.push_back(backend_->piece_to_id(piece));
    return ids;
  }
  std::vector<int> ids;
  const auto error = backend_->encode(text, &ids);
  if (!error.empty()) fail("tokenizer {}: encoding failed: {}", path_, error);
  return std::vector<int32_t>(ids.begin(), ids.end());
}

std::vector<std::string> Tokenizer::encode_pieces(std::string_view text) const {
  if (wordpiece_) return wordpiece_->encode_pieces(text);
  const auto sp_pieces = [this](std::string_view part) {
    std::vector<std::string> pieces;
    const auto error = backend_->encode_pieces(part, &pieces);
    if (!error.empty()) fail("tokenizer {}: encoding failed: {}", path_, error);
    return pieces;
  };
  if (!hf_text_) return sp_pieces(text);
  const HfSentencePieceConfig& c = *hf_text_;
  std::vector<std::string> out;
  for (const auto& part : hf_split_special_tokens(text, {c.unk, c.pad, c.cls, c.sep, c.mask})) {
    if (part.special) {
      out.push_back(part.text);
      continue;
    }
    const auto pieces =
        hf_split_digit_commas(sp_pieces(hf_preprocess_text(part.text, c)),
                              [&](const std::string& body) { return sp_pieces(body); });
    out.insert(out.end(), pieces.begin(), pieces.end());
  }
  return out;
}

std::string Tokenizer::decode(const std::vector<int32_t>& ids) const {
  if (wordpiece_) return wordpiece_->decode(ids);
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] < 0 || ids[i] >= vocab_size_) {
      fail("tokenizer {}: id {} at position {} is outside the vocabulary [0, {})", path_, ids[i], i,
           vocab_size_);
    }
  }
  std::string text;
  const auto error = backend_->decode(std::vector<int>(ids.begin(), ids.end()), &text);
  if (!error.empty()) fail("tokenizer {}: decoding failed: {}", path_, error);
  return text;
}

std::string Tokenizer::id_to_piece(int32_t id) const {
  if (id < 0 || id >= vocab_size_) {
    fail("tokenizer {}: id {} is outside the vocabulary [0, {})", path_, id, vocab_size_);
  }
  if (wordpiece_) return wordpiece_->id_to_piece(id);
  return backend_->id_to_piece(id);
}

int32_t Tokenizer::piece_to_id(const std::string& piece) const {
  if (wordpiece_) return wordpiece_->piece_to_id(piece);
  // SentencePiece answers the unknown id for pieces it lacks.
  const int id = backend_->piece_to_id(piece);
  if (id < 0 || id >= vocab_size_ || backend_->id_to_piece(id) != piece) return -1;
  return id;
}

}  // namespace smx
