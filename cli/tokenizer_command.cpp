// smx tokenizer train|encode|decode: train a SentencePiece model with the project's special ids and
// inspect how a tokenizer (SentencePiece, or BERT WordPiece from vocab.txt / tokenizer.json) splits
// text.
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "commands.h"
#include "smx/core/error.h"
#include "smx/tokenizer/tokenizer.h"

namespace smx::cli {
namespace {

constexpr const char* kModelHelp =
    "SentencePiece .model file, BERT vocab.txt or tokenizer.json, or a folder holding one";

void print_encoding(const Tokenizer& tok, const std::string& text, bool pieces) {
  std::string line;
  if (pieces) {
    for (const auto& piece : tok.encode_pieces(text)) line += (line.empty() ? "" : " ") + piece;
  } else {
    for (const auto id : tok.encode(text)) {
      line += (line.empty() ? "" : " ") + std::to_string(id);
    }
  }
  std::cout << line << '\n';
}

std::vector<int32_t> parse_ids(const std::string& text) {
  std::vector<int32_t> ids;
  std::istringstream in(text);
  std::string token;
  while (in >> token) {
    std::size_t used = 0;
    long value = 0;
    try {
      value = std::stol(token, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != token.size() || value < INT32_MIN || value > INT32_MAX) {
      fail("--ids: '{}' is not an integer id; pass space-separated ids such as \"4 17 5\"", token);
    }
    ids.push_back(static_cast<int32_t>(value));
  }
  return ids;
}

void register_train(CLI::App& parent) {
  auto* cmd =
      parent.add_subcommand("train", "Train a SentencePiece model ([CLS]=4 [SEP]=5 [MASK]=6)");
  auto options = std::make_shared<TokenizerTrainOptions>();
  cmd->add_option("--input", options->input_files, "Text files, one sentence per line")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--vocab-size", options->vocab_size, "Number of pieces")->capture_default_str();
  cmd->add_option("--model-type", options->model_type, "unigram | bpe | char | word")
      ->check(CLI::IsMember({"unigram", "bpe", "char", "word"}))
      ->capture_default_str();
  cmd->add_option("--out", options->output_path, "Model file to write, e.g. tok.model")->required();
  cmd->add_option("--character-coverage", options->character_coverage,
                  "Share of characters the vocabulary covers")
      ->capture_default_str();
  cmd->add_option("--input-sentence-size", options->input_sentence_size,
                  "Sample at most this many sentences (0 = all)")
      ->capture_default_str();
  cmd->add_option("--seed", options->seed, "Seed for sentence sampling")->capture_default_str();
  cmd->add_option("--threads", options->num_threads, "Training threads")->capture_default_str();
  cmd->add_flag("--hard-vocab-limit", options->hard_vocab_limit,
                "Fail instead of producing fewer pieces when the text is too small");
  cmd->callback([options] {
    Tokenizer::train(*options);
    const auto tok = Tokenizer::load(options->output_path);
    std::cout << "wrote " << options->output_path << ": " << tok.vocab_size() << " pieces, pad "
              << tok.pad_id() << ", unk " << tok.unk_id() << ", bos " << tok.bos_id() << ", eos "
              << tok.eos_id() << ", [CLS] " << tok.cls_id() << ", [SEP] " << tok.sep_id()
              << ", [MASK] " << tok.mask_id() << '\n';
  });
}

void register_encode(CLI::App& parent) {
  auto* cmd =
      parent.add_subcommand("encode", "Print ids (or pieces) of --text or of each stdin line");
  auto model = std::make_shared<std::string>();
  auto text = std::make_shared<std::string>();
  auto pieces = std::make_shared<bool>(false);
  cmd->add_option("--model", *model, kModelHelp)->required();
  auto* text_option = cmd->add_option("--text", *text, "Text to encode (default: stdin lines)");
  cmd->add_flag("--pieces", *pieces, "Print pieces instead of ids");
  cmd->callback([model, text, pieces, text_option] {
    const auto tok = Tokenizer::load(*model);
    if (text_option->count() > 0) {
      print_encoding(tok, *text, *pieces);
      return;
    }
    std::string line;
    while (std::getline(std::cin, line)) print_encoding(tok, line, *pieces);
  });
}

void register_decode(CLI::App& parent) {
  auto* cmd = parent.add_subcommand("decode", "Print the text of space-separated ids");
  auto model = std::make_shared<std::string>();
  auto ids = std::make_shared<std::string>();
  cmd->add_option("--model", *model, kModelHelp)->required();
  cmd->add_option("--ids", *ids, "Ids, e.g. \"4 17 5\"")->required();
  cmd->callback([model, ids] {
    const auto tok = Tokenizer::load(*model);
    std::cout << tok.decode(parse_ids(*ids)) << '\n';
  });
}

}  // namespace

void register_tokenizer_command(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "tokenizer", "Train SentencePiece tokenizers; inspect them and BERT WordPiece ones");
  cmd->require_subcommand(1);
  register_train(*cmd);
  register_encode(*cmd);
  register_decode(*cmd);
}

}  // namespace smx::cli
