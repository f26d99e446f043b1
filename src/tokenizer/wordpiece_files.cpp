#include "smx/tokenizer/wordpiece_files.h"

#include <filesystem>
#include <optional>

#include "smx/core/error.h"
#include "smx/core/json.h"
#include "smx/io/text_file.h"

namespace smx {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

bool ends_with(const std::string& text, std::string_view suffix) {
  return text.size() >= suffix.size() &&
         text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// A boolean key, or nullopt when absent (or null, where `null_ok`).
std::optional<bool> optional_bool(const json& object, const char* key, const std::string& file) {
  const auto it = object.find(key);
  if (it == object.end() || it->is_null()) return std::nullopt;
  if (!it->is_boolean()) fail("{}: key \"{}\" must be true, false or null", file, key);
  return it->get<bool>();
}

// A token name: a string, or an object {"content": "..."} as newer transformers write it.
void read_token_name(const json& object, const char* key, const std::string& file,
                     std::string& name) {
  const auto it = object.find(key);
  if (it == object.end() || it->is_null()) return;
  if (it->is_string()) {
    name = it->get<std::string>();
  } else if (it->is_object() && it->contains("content") && (*it)["content"].is_string()) {
    name = (*it)["content"].get<std::string>();
  } else {
    fail("{}: key \"{}\" must be a token string or an object with a \"content\" string", file, key);
  }
}

// An object's "type" string, or "" when it has none.
std::string type_of(const json& object) {
  if (!object.is_object()) return "";
  const auto it = object.find("type");
  return it != object.end() && it->is_string() ? it->get<std::string>() : "";
}

struct TokenizerConfig {
  BertNormalizerOptions normalizer;
  BertSpecialTokens specials;
};

// tokenizer_config.json beside `path`, if there is one; transformers' defaults otherwise.
TokenizerConfig read_tokenizer_config(const std::string& path) {
  TokenizerConfig config;
  const auto file = (fs::path(path).parent_path() / "tokenizer_config.json").string();
  std::error_code ec;
  if (!fs::is_regular_file(file, ec)) return config;
  const json j = parse_json(io::read_text_file(file), file);
  if (!j.is_object()) fail("{}: not a JSON object", file);
  if (const auto v = optional_bool(j, "do_lower_case", file)) config.normalizer.lowercase = *v;
  config.normalizer.strip_accents = optional_bool(j, "strip_accents", file);
  if (const auto v = optional_bool(j, "tokenize_chinese_chars", file)) {
    config.normalizer.handle_chinese_chars = *v;
  }
  read_token_name(j, "unk_token", file, config.specials.unk);
  read_token_name(j, "pad_token", file, config.specials.pad);
  read_token_name(j, "cls_token", file, config.specials.cls);
  read_token_name(j, "sep_token", file, config.specials.sep);
  read_token_name(j, "mask_token", file, config.specials.mask);
  return config;
}

LoadedWordPiece load_vocab_txt(const std::string& path) {
  const std::string text = io::read_text_file(path);
  std::vector<std::string> pieces;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    pieces.push_back(text.substr(start, end - start));
    if (pieces.back().size() > 0 && pieces.back().back() == '\r') {
      fail(
          "{}:{}: the line ends in a carriage return (Windows line endings); convert the file "
          "with dos2unix",
          path, pieces.size());
    }
    start = end + 1;
  }
  const TokenizerConfig config = read_tokenizer_config(path);
  WordPieceConfig wp;
  wp.normalizer = config.normalizer;
  wp.unk_token = config.specials.unk;
  const auto& s = config.specials;
  for (const auto* name : {&s.unk, &s.pad, &s.cls, &s.sep, &s.mask}) {
    if (std::find(pieces.begin(), pieces.end(), *name) != pieces.end()) {
      wp.special_tokens.push_back(*name);
    }
  }
  return {WordPiece(std::move(pieces), std::move(wp), path), config.specials};
}

LoadedWordPiece load_tokenizer_json(const std::string& path) {
  const json j = parse_json(io::read_text_file(path), path);
  if (!j.is_object()) fail("{}: not a JSON object", path);
  const auto model_it = j.find("model");
  if (model_it == j.end() || !model_it->is_object()) fail("{}: no \"model\" object", path);
  const json& model = *model_it;
  const std::string type = type_of(model);
  if (type != "WordPiece") {
    fail(
        "{}: model.type is \"{}\"; smx reads tokenizer.json files of WordPiece (BERT) models "
        "only; for a SentencePiece model give its .model file",
        path, type);
  }
  WordPieceConfig wp;
  try {
    wp.unk_token = model.value("unk_token", std::string("[UNK]"));
    wp.continuing_prefix = model.value("continuing_subword_prefix", std::string("##"));
    wp.max_input_chars_per_word = model.value("max_input_chars_per_word", 100);
  } catch (const json::exception& e) {
    fail(
        "{}: model.unk_token, continuing_subword_prefix or max_input_chars_per_word has the "
        "wrong type ({})",
        path, e.what());
  }

  const auto& normalizer = j.contains("normalizer") ? j["normalizer"] : json();
  if (normalizer.is_null()) {
    wp.normalize = false;
  } else if (type_of(normalizer) == "BertNormalizer") {
    const std::string where = path + " normalizer";
    wp.normalizer.clean_text = optional_bool(normalizer, "clean_text", where).value_or(true);
    wp.normalizer.handle_chinese_chars =
        optional_bool(normalizer, "handle_chinese_chars", where).value_or(true);
    wp.normalizer.lowercase = optional_bool(normalizer, "lowercase", where).value_or(true);
    wp.normalizer.strip_accents = optional_bool(normalizer, "strip_accents", where);
  } else {
    fail("{}: normalizer {} is not supported; smx implements BertNormalizer (or none)", path,
         normalizer.is_object() ? type_of(normalizer) : normalizer.dump());
  }
  const auto& pre = j.contains("pre_tokenizer") ? j["pre_tokenizer"] : json();
  if (type_of(pre) != "BertPreTokenizer") {
    fail("{}: pre_tokenizer {} is not supported; smx implements BertPreTokenizer", path,
         pre.is_object() ? type_of(pre) : pre.dump());
  }

  // id -> piece from model.vocab and added_tokens; ids must run 0..V-1 without gaps.
  std::vector<std::string> pieces;
  std::vector<bool> filled;
  auto place = [&](const std::string& piece, const json& id_value, const std::string& where) {
    if (!id_value.is_number_integer() || id_value.get<int64_t>() < 0 ||
        id_value.get<int64_t>() >= (int64_t{1} << 31) - 1) {
      fail("{}: {} has id {}; ids must be integers in [0, 2^31 - 1)", path, where, id_value.dump());
    }
    const auto id = static_cast<std::size_t>(id_value.get<int64_t>());
    if (id >= pieces.size()) {
      pieces.resize(id + 1);
      filled.resize(id + 1, false);
    }
    if (filled[id] && pieces[id] != piece) {
      fail("{}: id {} is given to both '{}' and '{}' ({})", path, id, pieces[id], piece, where);
    }
    pieces[id] = piece;
    filled[id] = true;
  };
  const auto vocab_it = model.find("vocab");
  if (vocab_it == model.end() || !vocab_it->is_object() || vocab_it->empty()) {
    fail("{}: model.vocab must be a non-empty object mapping pieces to ids", path);
  }
  for (const auto& [piece, id] : vocab_it->items())
    place(piece, id, "model.vocab[\"" + piece + "\"]");
  if (const auto added = j.find("added_tokens"); added != j.end() && !added->is_null()) {
    if (!added->is_array()) fail("{}: added_tokens must be an array", path);
    for (std::size_t i = 0; i < added->size(); ++i) {
      const json& token = (*added)[i];
      const std::string where = fmt::format("added_tokens[{}]", i);
      if (!token.is_object() || !token.contains("content") || !token["content"].is_string() ||
          !token.contains("id")) {
        fail("{}: {} must be an object with \"id\" and a \"content\" string", path, where);
      }
      const std::string content = token["content"].get<std::string>();
      place(content, token["id"], where);
      wp.special_tokens.push_back(content);
    }
  }
  for (std::size_t id = 0; id < filled.size(); ++id) {
    if (!filled[id]) {
      fail("{}: no piece has id {}; ids must run from 0 to {} without gaps", path, id,
           filled.size() - 1);
    }
  }
  TokenizerConfig config = read_tokenizer_config(path);
  config.specials.unk = wp.unk_token;  // the model's own choice wins
  return {WordPiece(std::move(pieces), std::move(wp), path), config.specials};
}

}  // namespace

LoadedWordPiece load_wordpiece(const std::string& path) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) fail("tokenizer {}: no such file", path);
  if (ends_with(path, ".json")) return load_tokenizer_json(path);
  if (ends_with(path, ".txt")) return load_vocab_txt(path);
  fail("tokenizer {}: a WordPiece vocabulary is a vocab.txt or a tokenizer.json file", path);
}

}  // namespace smx
