#include "smx/tokenizer/hf_sentencepiece.h"

#include <utf8proc.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "smx/core/error.h"
#include "smx/core/json.h"
#include "smx/io/text_file.h"

namespace smx {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr const char* kSpieceUnderline = "\xE2\x96\x81";  // U+2581, SentencePiece's word mark

std::u32string hf_sp_decode_utf8(std::string_view text) {
  std::u32string out;
  const auto* bytes = reinterpret_cast<const utf8proc_uint8_t*>(text.data());
  utf8proc_ssize_t pos = 0;
  const auto size = static_cast<utf8proc_ssize_t>(text.size());
  while (pos < size) {
    utf8proc_int32_t c = 0;
    const utf8proc_ssize_t n = utf8proc_iterate(bytes + pos, size - pos, &c);
    if (n < 0)
      fail("tokenizer: the text is not valid UTF-8 at byte {}; convert it to UTF-8 first", pos);
    out.push_back(static_cast<char32_t>(c));
    pos += n;
  }
  return out;
}

std::string hf_sp_encode_utf8(const std::u32string& text) {
  std::string out;
  utf8proc_uint8_t buffer[4];
  for (const char32_t c : text) {
    const utf8proc_ssize_t n = utf8proc_encode_char(static_cast<utf8proc_int32_t>(c), buffer);
    out.append(reinterpret_cast<const char*>(buffer), static_cast<size_t>(n));
  }
  return out;
}

// Python's str.isspace: bidirectional class WS, B or S, or general category Zs.
bool hf_sp_is_space(char32_t c) {
  const utf8proc_property_t* p = utf8proc_get_property(static_cast<utf8proc_int32_t>(c));
  return p->bidi_class == UTF8PROC_BIDI_CLASS_WS || p->bidi_class == UTF8PROC_BIDI_CLASS_B ||
         p->bidi_class == UTF8PROC_BIDI_CLASS_S || p->category == UTF8PROC_CATEGORY_ZS;
}

bool hf_sp_is_letter(char32_t c) {
  const auto cat = utf8proc_category(static_cast<utf8proc_int32_t>(c));
  return cat == UTF8PROC_CATEGORY_LU || cat == UTF8PROC_CATEGORY_LL ||
         cat == UTF8PROC_CATEGORY_LT || cat == UTF8PROC_CATEGORY_LM || cat == UTF8PROC_CATEGORY_LO;
}

// Python's str.lower: the simple mapping, plus U+0130 -> "i" U+0307 and a final capital sigma
// becoming U+03C2 (approximated as: after a letter and not before one).
std::u32string hf_sp_lower(const std::u32string& text) {
  std::u32string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    const char32_t c = text[i];
    if (c == U'\u0130') {
      out += U"i\u0307";
    } else if (c == U'\u03A3') {
      const bool after_letter = i > 0 && hf_sp_is_letter(text[i - 1]);
      const bool before_letter = i + 1 < text.size() && hf_sp_is_letter(text[i + 1]);
      out.push_back(after_letter && !before_letter ? U'\u03C2' : U'\u03C3');
    } else {
      out.push_back(static_cast<char32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(c))));
    }
  }
  return out;
}

std::u32string hf_sp_strip_accents(const std::string& utf8) {
  utf8proc_uint8_t* mapped = nullptr;
  const utf8proc_ssize_t n =
      utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(utf8.data()),
                   static_cast<utf8proc_ssize_t>(utf8.size()), &mapped,
                   static_cast<utf8proc_option_t>(UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT));
  if (n < 0) fail("tokenizer: NFKD failed: {}", utf8proc_errmsg(n));
  const std::string nfkd(reinterpret_cast<const char*>(mapped), static_cast<size_t>(n));
  std::free(mapped);
  std::u32string out;
  for (const char32_t c : hf_sp_decode_utf8(nfkd))
    if (utf8proc_get_property(static_cast<utf8proc_int32_t>(c))->combining_class == 0)
      out.push_back(c);
  return out;
}

void hf_sp_replace_all(std::string& text, std::string_view from, std::string_view to) {
  size_t pos = 0;
  while ((pos = text.find(from, pos)) != std::string::npos) {
    text.replace(pos, from.size(), to);
    pos += to.size();
  }
}

std::optional<bool> hf_sp_bool(const json& j, const char* key, const std::string& file) {
  const auto it = j.find(key);
  if (it == j.end() || it->is_null()) return std::nullopt;
  if (!it->is_boolean()) fail("{}: key \"{}\" must be true, false or null", file, key);
  return it->get<bool>();
}

void hf_sp_token(const json& j, const char* key, const std::string& file, std::string& name) {
  const auto it = j.find(key);
  if (it == j.end() || it->is_null()) return;
  if (it->is_string())
    name = it->get<std::string>();
  else if (it->is_object() && it->contains("content") && (*it)["content"].is_string())
    name = (*it)["content"].get<std::string>();
  else
    fail("{}: key \"{}\" must be a token string or an object with a \"content\" string", file, key);
}

}  // namespace

std::optional<HfSentencePieceConfig> find_hf_sentencepiece_config(const std::string& model_path) {
  const fs::path model(model_path);
  const std::string file = (model.parent_path() / "tokenizer_config.json").string();
  std::error_code ec;
  HfSentencePieceConfig config;
  if (!fs::is_regular_file(file, ec))
    return model.filename() == "spiece.model" ? std::optional(config) : std::nullopt;
  const json j = parse_json(io::read_text_file(file), file);
  if (!j.is_object()) fail("{}: not a JSON object", file);
  if (j.contains("tokenizer_class")) {
    if (!j["tokenizer_class"].is_string()) fail("{}: \"tokenizer_class\" must be a string", file);
    config.tokenizer_class = j["tokenizer_class"].get<std::string>();
  }
  const std::string& cls = config.tokenizer_class;
  const bool albert = cls == "AlbertTokenizer" || cls == "AlbertTokenizerFast";
  const bool fnet = cls == "FNetTokenizer" || cls == "FNetTokenizerFast";
  const bool flags = j.contains("remove_space") || j.contains("keep_accents");
  if (!albert && !fnet && !flags && model.filename() != "spiece.model") return std::nullopt;
  if (albert) {  // AlbertTokenizer's own defaults
    config.do_lower_case = true;
    config.keep_accents = false;
  }
  if (const auto v = hf_sp_bool(j, "do_lower_case", file)) config.do_lower_case = *v;
  if (const auto v = hf_sp_bool(j, "remove_space", file)) config.remove_space = *v;
  if (const auto v = hf_sp_bool(j, "keep_accents", file)) config.keep_accents = *v;
  hf_sp_token(j, "unk_token", file, config.unk);
  hf_sp_token(j, "pad_token", file, config.pad);
  hf_sp_token(j, "cls_token", file, config.cls);
  hf_sp_token(j, "sep_token", file, config.sep);
  hf_sp_token(j, "mask_token", file, config.mask);
  return config;
}

std::string hf_preprocess_text(std::string_view text, const HfSentencePieceConfig& config) {
  const std::u32string chars = hf_sp_decode_utf8(text);
  std::u32string spaced;
  if (config.remove_space) {
    bool pending_space = false;
    for (const char32_t c : chars) {
      if (hf_sp_is_space(c)) {
        pending_space = !spaced.empty();
        continue;
      }
      if (pending_space) spaced.push_back(U' ');
      pending_space = false;
      spaced.push_back(c);
    }
  } else {
    spaced = chars;
  }
  std::string out = hf_sp_encode_utf8(spaced);
  hf_sp_replace_all(out, "``", "\"");
  hf_sp_replace_all(out, "''", "\"");
  if (!config.keep_accents) out = hf_sp_encode_utf8(hf_sp_strip_accents(out));
  if (config.do_lower_case) out = hf_sp_encode_utf8(hf_sp_lower(hf_sp_decode_utf8(out)));
  return out;
}

std::vector<std::string> hf_split_digit_commas(
    const std::vector<std::string>& pieces,
    const std::function<std::vector<std::string>(const std::string&)>& encode_pieces) {
  const std::string underline = kSpieceUnderline;
  std::vector<std::string> out;
  for (const std::string& piece : pieces) {
    const std::u32string chars = hf_sp_decode_utf8(piece);
    const size_t n = chars.size();
    const bool digit_comma =
        n > 1 && chars[n - 1] == U',' &&
        utf8proc_category(static_cast<utf8proc_int32_t>(chars[n - 2])) == UTF8PROC_CATEGORY_ND;
    if (!digit_comma) {
      out.push_back(piece);
      continue;
    }
    std::string body = piece.substr(0, piece.size() - 1);
    hf_sp_replace_all(body, underline, "");
    std::vector<std::string> parts = encode_pieces(body);
    const bool piece_marked = piece.compare(0, underline.size(), underline) == 0;
    if (!piece_marked && !parts.empty() &&
        parts.front().compare(0, underline.size(), underline) == 0) {
      if (parts.front().size() == underline.size())
        parts.erase(parts.begin());
      else
        parts.front() = parts.front().substr(underline.size());
    }
    parts.emplace_back(",");
    out.insert(out.end(), parts.begin(), parts.end());
  }
  return out;
}

std::vector<HfTextPart> hf_split_special_tokens(std::string_view text,
                                                const std::vector<std::string>& specials) {
  std::vector<std::string> sorted;
  for (const auto& s : specials)
    if (!s.empty()) sorted.push_back(s);
  std::sort(sorted.begin(), sorted.end(),
            [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
  std::vector<HfTextPart> parts;
  std::string current;
  size_t i = 0;
  while (i < text.size()) {
    const std::string* match = nullptr;
    for (const auto& s : sorted)
      if (text.compare(i, s.size(), s) == 0) {
        match = &s;
        break;
      }
    if (!match) {
      current.push_back(text[i++]);
      continue;
    }
    if (!current.empty()) parts.push_back({std::move(current), false});
    current.clear();
    parts.push_back({*match, true});
    i += match->size();
  }
  if (!current.empty()) parts.push_back({std::move(current), false});
  return parts;
}

}  // namespace smx
