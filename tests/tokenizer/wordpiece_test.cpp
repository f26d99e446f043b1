// BERT WordPiece: a table of hard cases with hand-derived ids, the same vocabulary given as
// vocab.txt (+ tokenizer_config.json) and as tokenizer.json, loading through smx::Tokenizer, and
// `smx tokenizer encode/decode` on a vocab.txt.
#include "smx/tokenizer/wordpiece.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <optional>

#include <nlohmann/json.hpp>

#include "smx/core/error.h"
#include "smx/tokenizer/bert_pretokenizer.h"
#include "smx/tokenizer/tokenizer.h"
#include "smx/tokenizer/wordpiece_files.h"
#include "support/run_cli.h"
#include "support/scratch_dir.h"

namespace smx {
namespace {

using ::testing::HasSubstr;
using Ids = std::vector<int32_t>;

// id = position. Chosen so each case below exercises one rule.
const std::vector<std::string> kVocab = {
    "[PAD]",  "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hello", "world", "##s",  "un",    "##aff",
    "##able", ",",     "!",     ".",     "cafe",   "café",  "中",    "国",   "a",     "##a",
    "Hello",  "ed",    "'",     "t",     "don",    "$",     "¿",     "##ed", "naive", "naïve"};
constexpr int32_t kUnk = 1;

std::string vocab_txt() {
  std::string text;
  for (const auto& piece : kVocab) text += piece + "\n";
  return text;
}

// The normaliser settings as tokenizer_config.json and as tokenizer.json state them.
struct Casing {
  const char* name;
  bool lowercase;
  std::optional<bool> strip_accents;
};

std::string tokenizer_config_json(const Casing& c) {
  nlohmann::json j = {{"do_lower_case", c.lowercase}, {"tokenizer_class", "BertTokenizer"}};
  j["strip_accents"] = c.strip_accents ? nlohmann::json(*c.strip_accents) : nlohmann::json();
  return j.dump();
}

std::string tokenizer_json(const Casing& c) {
  nlohmann::json vocab = nlohmann::json::object();
  for (size_t i = 0; i < kVocab.size(); ++i) vocab[kVocab[i]] = i;
  nlohmann::json added = nlohmann::json::array();
  for (int i = 0; i < 5; ++i) {
    added.push_back({{"id", i},
                     {"content", kVocab[i]},
                     {"single_word", false},
                     {"lstrip", false},
                     {"rstrip", false},
                     {"normalized", false},
                     {"special", true}});
  }
  nlohmann::json j = {
      {"version", "1.0"},
      {"truncation", nullptr},
      {"padding", nullptr},
      {"added_tokens", added},
      {"normalizer",
       {{"type", "BertNormalizer"},
        {"clean_text", true},
        {"handle_chinese_chars", true},
        {"strip_accents", c.strip_accents ? nlohmann::json(*c.strip_accents) : nlohmann::json()},
        {"lowercase", c.lowercase}}},
      {"pre_tokenizer", {{"type", "BertPreTokenizer"}}},
      {"post_processor", nullptr},
      {"decoder", {{"type", "WordPiece"}, {"prefix", "##"}, {"cleanup", true}}},
      {"model",
       {{"type", "WordPiece"},
        {"unk_token", "[UNK]"},
        {"continuing_subword_prefix", "##"},
        {"max_input_chars_per_word", 100},
        {"vocab", vocab}}}};
  return j.dump(1);
}

struct Case {
  std::string text;
  Ids ids;
};

Ids repeat_a(int n) {  // "aaa..." -> a ##a ##a ...
  Ids ids = {18};
  for (int i = 1; i < n; ++i) ids.push_back(19);
  return ids;
}

// Cases whose ids do not depend on the casing settings.
std::vector<Case> common_cases() {
  return {
      {"", {}},
      {" \t\n\r  ", {}},
      {"\u3000", {}},                     // ideographic space (Zs)
      {"unaffable", {8, 9, 10}},          // longest match first, ## continuations
      {"hello, world!", {5, 11, 6, 12}},  // punctuation splits
      {"hello.world", {5, 13, 6}},        // punctuation splits inside a word
      {"hellos", {5, 7}},
      {"don't", {24, 22, 23}},
      {"$hello", {25, 5}},                    // ASCII symbol (Unicode Sc) splits as punctuation
      {"¿hello?", {26, 5, kUnk}},             // Unicode Po; '?' is not in the vocabulary
      {"中国", {16, 17}},                     // each CJK ideograph is a word
      {"hello中国world", {5, 16, 17, 6}},     // CJK inside a word still splits
      {"hel\x01lo", {5}},                     // control character dropped, no split
      {"hel\xEF\xBF\xBDlo", {5}},             // U+FFFD dropped
      {"hello\xE2\x80\x8Bworld", {kUnk}},     // U+200B (Cf) dropped, not a split: "helloworld"
      {"hello\xC2\xA0world", {5, 6}},         // no-break space is whitespace
      {"hello \xF0\x9F\x98\x80", {5, kUnk}},  // emoji: unknown word
      {"hellos\xF0\x9F\x98\x80", {kUnk}},     // one uncovered character: the whole word is [UNK]
      {"xyz", {kUnk}},
      {std::string(100, 'a'), repeat_a(100)},
      {std::string(101, 'a'), {kUnk}},  // over max_input_chars_per_word
      {"[MASK]ed", {4, 21}},            // glued special token; "ed" starts a new word
      {"hello[SEP]", {5, 3}},
      {"[CLS]hello [MASK][SEP]", {2, 5, 4, 3}},
      {"[MASK", {kUnk, kUnk}},  // '[' is punctuation not in the vocabulary, "mask" unknown
  };
}

struct Table {
  Casing casing;
  std::vector<Case> cases;
};

std::vector<Table> tables() {
  return {
      {{"uncased (default)", true, std::nullopt},
       {{"Hello, WORLD!", {5, 11, 6, 12}},
        {"café", {14}},
        {"CAFÉ", {14}},
        {"cafe\xCC\x81", {14}},  // decomposed e + U+0301
        {"naïve", {28}},
        {"[mask]", {kUnk, kUnk, kUnk}}}},  // special tokens match case-sensitively
      {{"lowercase, accents kept", true, false},
       {{"CAFÉ", {15}}, {"café", {15}}, {"NAÏVE", {29}}, {"Hello", {5}}}},
      {{"cased", false, std::nullopt},
       {{"Hello", {20}},
        {"hello", {5}},
        {"HELLO", {kUnk}},
        {"café", {15}},
        {"Café", {kUnk}},
        {"naïve", {29}}}},
      {{"cased, accents stripped", false, true},
       {{"café", {14}}, {"Hello", {20}}, {"naïve", {28}}}},
  };
}

// dir.write, creating the folders `name` goes through.
std::string put(const testing::ScratchDir& dir, const std::string& name,
                const std::string& contents) {
  std::filesystem::create_directories((dir.path() / name).parent_path());
  return dir.write(name, contents);
}

std::string show(const Ids& ids) {
  std::string s;
  for (const auto id : ids) s += std::to_string(id) + " ";
  return s;
}

TEST(WordPiece, HardCasesGiveTheExpectedIdsFromVocabTxtAndTokenizerJson) {
  testing::ScratchDir dir;
  for (const auto& table : tables()) {
    const std::string sub = std::string(table.casing.name).substr(0, 5) +
                            std::to_string(table.casing.lowercase) +
                            std::to_string(table.casing.strip_accents.value_or(2));
    const auto vocab = put(dir, sub + "/txt/vocab.txt", vocab_txt());
    put(dir, sub + "/txt/tokenizer_config.json", tokenizer_config_json(table.casing));
    const auto json = put(dir, sub + "/json/tokenizer.json", tokenizer_json(table.casing));
    const auto from_txt = load_wordpiece(vocab);
    const auto from_json = load_wordpiece(json);
    ASSERT_EQ(from_txt.model.size(), static_cast<int32_t>(kVocab.size()));
    ASSERT_EQ(from_json.model.size(), static_cast<int32_t>(kVocab.size()));
    auto cases = common_cases();
    cases.insert(cases.end(), table.cases.begin(), table.cases.end());
    for (const auto& c : cases) {
      EXPECT_EQ(show(from_txt.model.encode(c.text)), show(c.ids))
          << table.casing.name << ", vocab.txt: '" << c.text << "'";
      EXPECT_EQ(show(from_json.model.encode(c.text)), show(c.ids))
          << table.casing.name << ", tokenizer.json: '" << c.text << "'";
    }
  }
}

TEST(WordPiece, NormaliserAndPreTokeniser) {
  BertNormalizerOptions uncased;
  const auto normalize = [&](const std::string& text, const BertNormalizerOptions& o) {
    return code_points_to_utf8(bert_normalize(utf8_to_code_points(text, "test"), o));
  };
  EXPECT_EQ(normalize("Ünïcödé\tX\x01", uncased), "unicode x");
  EXPECT_EQ(normalize("a中b", uncased), "a 中 b");
  BertNormalizerOptions raw;
  raw.clean_text = false;
  raw.handle_chinese_chars = false;
  raw.lowercase = false;
  EXPECT_EQ(normalize("Ü中\x01", raw), "Ü中\x01");
  const auto words = bert_pre_tokenize(utf8_to_code_points("a,b  c—d", "test"));
  std::vector<std::string> got;
  for (const auto& w : words) got.push_back(code_points_to_utf8(w));
  EXPECT_EQ(got, (std::vector<std::string>{"a", ",", "b", "c", "—", "d"}));  // em dash is Pd
  EXPECT_TRUE(bert_is_punctuation(U'~'));
  EXPECT_FALSE(bert_is_punctuation(U'a'));
  EXPECT_TRUE(bert_is_control(0x200B));
  EXPECT_FALSE(bert_is_control(U'\t'));
  EXPECT_THROW(utf8_to_code_points("ab\xFF", "test"), Error);
}

TEST(WordPiece, TokenizerLoadsEitherFileOrAFolder) {
  testing::ScratchDir dir;
  const auto vocab = put(dir, "bert/vocab.txt", vocab_txt());
  for (const auto& path : {vocab, (dir.path() / "bert").string()}) {
    const auto tok = Tokenizer::load(path);
    EXPECT_EQ(tok.kind(), Tokenizer::Kind::kWordPiece);
    EXPECT_EQ(tok.path(), vocab);
    EXPECT_EQ(tok.vocab_size(), static_cast<int32_t>(kVocab.size()));
    EXPECT_EQ(tok.pad_id(), 0);
    EXPECT_EQ(tok.unk_id(), 1);
    EXPECT_EQ(tok.cls_id(), 2);
    EXPECT_EQ(tok.sep_id(), 3);
    EXPECT_EQ(tok.mask_id(), 4);
    EXPECT_EQ(tok.bos_id(), -1);
    EXPECT_EQ(tok.eos_id(), -1);
    EXPECT_EQ(tok.piece_to_id("##able"), 10);
    EXPECT_EQ(tok.piece_to_id("absent"), -1);
    EXPECT_EQ(tok.id_to_piece(9), "##aff");
    EXPECT_EQ(tok.encode("Unaffable!"), (Ids{8, 9, 10, 12}));
    EXPECT_EQ(tok.encode_pieces("Unaffable!"),
              (std::vector<std::string>{"un", "##aff", "##able", "!"}));
    EXPECT_THROW(tok.id_to_piece(static_cast<int32_t>(kVocab.size())), Error);
  }
  // A folder holding both: tokenizer.json (here cased) wins over vocab.txt.
  const auto json = put(dir, "bert/tokenizer.json", tokenizer_json({"cased", false, {}}));
  const auto tok = Tokenizer::load((dir.path() / "bert").string());
  EXPECT_EQ(tok.path(), json);
  EXPECT_EQ(tok.encode("Hello"), (Ids{20}));
}

TEST(WordPiece, DecodeJoinsContinuationsAsBertDoes) {
  testing::ScratchDir dir;
  const auto tok = Tokenizer::load(put(dir, "vocab.txt", vocab_txt()));
  EXPECT_EQ(tok.decode(tok.encode("unaffable, hello world!")), "unaffable, hello world!");
  EXPECT_EQ(tok.decode(tok.encode("don't")), "don't");
  EXPECT_EQ(tok.decode({2, 5, 7, 4, 21, 3}), "[CLS] hellos [MASK] ed [SEP]");
  EXPECT_EQ(tok.decode({}), "");
  EXPECT_THROW(tok.decode({static_cast<int32_t>(kVocab.size())}), Error);
  EXPECT_THROW(tok.decode({-1}), Error);
}

TEST(WordPiece, BadFilesGiveClearErrors) {
  testing::ScratchDir dir;
  auto message = [](const std::string& path) -> std::string {
    try {
      Tokenizer::load(path);
    } catch (const Error& e) {
      return e.what();
    }
    return "(no error)";
  };
  std::string no_mask;
  for (size_t i = 0; i < 4; ++i) no_mask += kVocab[i] + "\n";
  EXPECT_THAT(message(put(dir, "a/vocab.txt", no_mask + "hello\n")),
              HasSubstr("no mask token '[MASK]'"));
  EXPECT_THAT(message(put(dir, "b/vocab.txt", "[PAD]\r\n[UNK]\r\n")),
              HasSubstr("vocab.txt:1: the line ends in a carriage return"));
  auto json = nlohmann::json::parse(tokenizer_json({"uncased", true, {}}));
  json["model"]["type"] = "BPE";
  EXPECT_THAT(message(put(dir, "c/tokenizer.json", json.dump())),
              HasSubstr("model.type is \"BPE\""));
  json = nlohmann::json::parse(tokenizer_json({"uncased", true, {}}));
  json["normalizer"] = {{"type", "Sequence"}, {"normalizers", nlohmann::json::array()}};
  EXPECT_THAT(message(put(dir, "d/tokenizer.json", json.dump())),
              HasSubstr("normalizer Sequence is not supported"));
  json = nlohmann::json::parse(tokenizer_json({"uncased", true, {}}));
  json["model"]["vocab"]["hello"] = 40;
  EXPECT_THAT(message(put(dir, "e/tokenizer.json", json.dump())), HasSubstr("no piece has id 5"));
  EXPECT_THAT(message(put(dir, "f/tokenizer.json", "{\"model\": ")), HasSubstr("tokenizer.json"));
  std::filesystem::create_directories(dir.path() / "empty");
  EXPECT_THAT(message((dir.path() / "empty").string()), HasSubstr("holds no WordPiece"));
  const auto tok = Tokenizer::load(put(dir, "g/vocab.txt", vocab_txt()));
  EXPECT_THROW(tok.encode("caf\xC3"), Error);  // truncated UTF-8
}

TEST(WordPieceCli, EncodeAndDecodeAVocabTxt) {
  testing::ScratchDir dir;
  const auto vocab = put(dir, "vocab.txt", vocab_txt());
  auto r = testing::run_smx("tokenizer encode --model " + vocab + " --text 'Unaffable [MASK]ed!'");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(r.output, "8 9 10 4 21 12\n");
  r = testing::run_smx("tokenizer encode --pieces --model " + vocab + " --text 'Hellos, world'");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(r.output, "hello ##s , world\n");
  r = testing::run_smx("tokenizer decode --model " + dir.path().string() + " --ids '8 9 10 11 5'");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(r.output, "unaffable, hello\n");
  r = testing::run_smx("tokenizer encode --model " + dir.file("missing.txt") + " --text x");
  EXPECT_NE(r.status, 0);
  EXPECT_THAT(r.output, HasSubstr("missing.txt"));
}

}  // namespace
}  // namespace smx
