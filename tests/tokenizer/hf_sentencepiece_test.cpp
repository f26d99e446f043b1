// FNet / ALBERT SentencePiece text handling: a table of cases whose ids were computed with
// Debian's python3-sentencepiece and the documented preprocessing
// (scripts/make_fnet_tokenizer_fixture.py writes tests/tokenizer/fixtures/fnet_tiny/), for FNet's
// settings, ALBERT's (lower-case, accents stripped) and remove_space off; special ids and the
// [CLS] a [SEP] b [SEP] layout; a plain .model is left alone; bad configs; the CLI.
#include "smx/tokenizer/hf_sentencepiece.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "smx/core/error.h"
#include "smx/core/json.h"
#include "smx/io/text_file.h"
#include "smx/tasks/input_format.h"
#include "smx/tokenizer/tokenizer.h"
#include "support/run_cli.h"
#include "support/scratch_dir.h"

namespace smx {
namespace hf_sentencepiece_test {

namespace fs = std::filesystem;
using json = nlohmann::json;
using ::testing::HasSubstr;

const std::string kFixture = std::string(SMX_SOURCE_DIR) + "/tests/tokenizer/fixtures/fnet_tiny";

json fixture_cases() {
  const std::string file = kFixture + "/cases.json";
  return parse_json(io::read_text_file(file), file);
}

// A folder holding the fixture's spiece.model and a tokenizer_config.json with `flags`.
std::string folder_with(const testing::ScratchDir& dir, const std::string& name,
                        const json& flags) {
  const fs::path folder = dir.path() / name;
  fs::create_directories(folder);
  fs::copy_file(kFixture + "/spiece.model", folder / "spiece.model");
  json config = flags;
  config["tokenizer_class"] = "FNetTokenizer";
  dir.write(name + "/tokenizer_config.json", config.dump());
  return folder.string();
}

std::string join_ids(const std::vector<int32_t>& ids) {
  std::string s;
  for (const auto id : ids) s += (s.empty() ? "" : " ") + std::to_string(id);
  return s;
}

TEST(HfSentencePiece, CaseTableMatchesSentencePieceWithHuggingFacePreprocessing) {
  const json table = fixture_cases();
  testing::ScratchDir dir;
  int checked = 0, mismatches = 0;
  for (const auto& [name, flags] : table["configs"].items()) {
    const std::string folder = name == "fnet" ? kFixture : folder_with(dir, name, flags);
    const Tokenizer tok = Tokenizer::load(folder);
    ASSERT_NE(tok.hf_sentencepiece(), nullptr) << name;
    EXPECT_EQ(tok.hf_sentencepiece()->do_lower_case, flags["do_lower_case"].get<bool>()) << name;
    EXPECT_EQ(tok.hf_sentencepiece()->keep_accents, flags["keep_accents"].get<bool>()) << name;
    for (const auto& c : table["cases"]) {
      const std::string text = c["text"].get<std::string>();
      const auto want_ids = c[name]["ids"].get<std::vector<int32_t>>();
      const auto want_pieces = c[name]["pieces"].get<std::vector<std::string>>();
      const auto ids = tok.encode(text);
      const auto pieces = tok.encode_pieces(text);
      EXPECT_EQ(ids, want_ids) << name << " text '" << text << "': got " << join_ids(ids)
                               << ", want " << join_ids(want_ids);
      EXPECT_EQ(pieces, want_pieces) << name << " text '" << text << "'";
      mismatches += ids != want_ids;
      ++checked;
    }
  }
  std::printf("HF SentencePiece table: %d cases x configs checked, %d id mismatches\n", checked,
              mismatches);
  EXPECT_GE(checked, 36);
}

TEST(HfSentencePiece, SpecialIdsAndFNetInputLayout) {
  const Tokenizer tok = Tokenizer::load(kFixture + "/spiece.model");
  EXPECT_EQ(tok.kind(), Tokenizer::Kind::kSentencePiece);
  EXPECT_EQ(tok.pad_id(), 0);
  EXPECT_EQ(tok.unk_id(), 1);
  EXPECT_EQ(tok.cls_id(), 2);
  EXPECT_EQ(tok.sep_id(), 3);
  EXPECT_EQ(tok.mask_id(), 4);
  const auto encode = [&](const std::string& s) { return tok.encode(s); };
  const auto a = tok.encode("Sparse mixers");
  const auto b = tok.encode("route tokens");
  const auto input = tasks::encode_segments({"Sparse mixers", "route tokens"}, encode, tok.cls_id(),
                                            tok.sep_id(), 512);
  std::vector<int64_t> want{2};
  want.insert(want.end(), a.begin(), a.end());
  want.push_back(3);
  want.insert(want.end(), b.begin(), b.end());
  want.push_back(3);
  EXPECT_EQ(input.input_ids, want);
  const size_t first = a.size() + 2;
  for (size_t i = 0; i < input.type_ids.size(); ++i)
    EXPECT_EQ(input.type_ids[i], i < first ? 0 : 1) << "position " << i;
}

TEST(HfSentencePiece, APlainModelIsNotPreprocessed) {
  testing::ScratchDir dir;
  const std::string plain = dir.file("tok.model");
  fs::copy_file(kFixture + "/spiece.model", plain);
  const Tokenizer tok = Tokenizer::load(plain);
  EXPECT_EQ(tok.hf_sentencepiece(), nullptr);
  const Tokenizer fnet = Tokenizer::load(kFixture);
  // SentencePiece alone keeps `` and '' and never splits "0,".
  EXPECT_NE(tok.encode("``quoted'' 2000,"), fnet.encode("``quoted'' 2000,"));
  // Without tokenizer_config.json, a file named spiece.model gets FNet's defaults.
  fs::create_directories(dir.path() / "bare");
  fs::copy_file(kFixture + "/spiece.model", dir.path() / "bare" / "spiece.model");
  const Tokenizer bare = Tokenizer::load(dir.file("bare"));
  ASSERT_NE(bare.hf_sentencepiece(), nullptr);
  EXPECT_FALSE(bare.hf_sentencepiece()->do_lower_case);
  EXPECT_TRUE(bare.hf_sentencepiece()->keep_accents);
  EXPECT_EQ(bare.encode("``Café'' 2000,"), fnet.encode("``Café'' 2000,"));
}

TEST(HfSentencePiece, PreprocessingRules) {
  HfSentencePieceConfig c;
  // Python's str.split whitespace: tab, newline, NBSP, ideographic space, U+001F.
  EXPECT_EQ(hf_preprocess_text(" a\t\tb\n\xC2\xA0"
                               "c\xE3\x80\x80"
                               "d\x1F"
                               "e  ",
                               c),
            "a b c d e");
  EXPECT_EQ(hf_preprocess_text("``x'' '''", c), "\"x\" \"'");
  c.remove_space = false;
  EXPECT_EQ(hf_preprocess_text(" a  b ", c), " a  b ");
  c.keep_accents = false;
  c.do_lower_case = true;
  EXPECT_EQ(hf_preprocess_text("Ça ÉTÉ \xEF\xAC\x81", c), "ca ete fi");  // NFKD: the fi ligature
  EXPECT_EQ(hf_preprocess_text("\xC4\xB0", c), "i");  // İ -> i + U+0307, the mark then dropped
  c.keep_accents = true;
  EXPECT_EQ(hf_preprocess_text("\xC4\xB0", c), "i\xCC\x87");
  EXPECT_EQ(hf_preprocess_text("\xCE\xA3\xCE\x91\xCE\xA3", c), "\xCF\x83\xCE\xB1\xCF\x82");  // σας
  EXPECT_THROW(hf_preprocess_text("caf\xC3", c), Error);
}

TEST(HfSentencePiece, DigitCommaRuleAndSpecialSplit) {
  const std::string u = "\xE2\x96\x81";
  const auto fake_encode = [&](const std::string& s) {
    std::vector<std::string> out{u + s.substr(0, 1)};
    if (s.size() > 1) out.push_back(s.substr(1));
    return out;
  };
  EXPECT_EQ(hf_split_digit_commas({u + "12,", "ab,", "7,", ","}, fake_encode),
            (std::vector<std::string>{u + "1", "2", ",", "ab,", "7", ",", ","}));
  const auto parts = hf_split_special_tokens("a[MASK][SEP]b[MASKED]", {"[SEP]", "[MASK]"});
  ASSERT_EQ(parts.size(), 4u);  // "[MASKED]" holds no "[MASK]"
  EXPECT_EQ(parts[0].text, "a");
  EXPECT_FALSE(parts[0].special);
  EXPECT_TRUE(parts[1].special);
  EXPECT_EQ(parts[1].text, "[MASK]");
  EXPECT_EQ(parts[2].text, "[SEP]");
  EXPECT_EQ(parts[3].text, "b[MASKED]");
  EXPECT_FALSE(parts[3].special);
}

TEST(HfSentencePiece, BadConfigsNameTheFileAndKey) {
  testing::ScratchDir dir;
  const std::string folder = folder_with(dir, "bad", json{{"keep_accents", "yes"}});
  try {
    Tokenizer::load(folder);
    FAIL() << "a string keep_accents was accepted";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("tokenizer_config.json"));
    EXPECT_THAT(e.what(), HasSubstr("keep_accents"));
  }
  const std::string missing = folder_with(dir, "nocls", json{{"cls_token", "<cls>"}});
  try {
    Tokenizer::load(missing);
    FAIL() << "a cls token the model lacks was accepted";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("<cls>"));
  }
}

TEST(HfSentencePieceCli, EncodeAndDecodeAnFNetFolder) {
  const json table = fixture_cases();
  const json& c = table["cases"][1];  // "I was born in 92000, ..."
  auto r = testing::run_smx("tokenizer encode --model " + kFixture + " --text '" +
                            c["text"].get<std::string>() + "'");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(r.output, join_ids(c["fnet"]["ids"].get<std::vector<int32_t>>()) + "\n");
  r = testing::run_smx("tokenizer encode --pieces --model " + kFixture + " --text 'This is'");
  ASSERT_EQ(r.status, 0) << r.output;
  const auto& pieces = table["cases"][0]["fnet"]["pieces"];
  EXPECT_THAT(r.output,
              HasSubstr(pieces[0].get<std::string>() + " " + pieces[1].get<std::string>()));
  const Tokenizer tok = Tokenizer::load(kFixture);
  r = testing::run_smx("tokenizer decode --model " + kFixture + " --ids '" +
                       join_ids(tok.encode("the lazy dog")) + "'");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(r.output, "the lazy dog\n");
}

// The committed fixture is what scripts/make_fnet_tokenizer_fixture.py writes (Debian's
// python3-sentencepiece): the same pieces (the model file itself records its training paths) and
// byte-identical cases.json / tokenizer_config.json.
TEST(HfSentencePieceFixture, TheScriptReproducesTheCommittedFixture) {
  testing::ScratchDir dir;
  const std::string out = dir.file("fx");
  const std::string command = "/usr/bin/python3 " + std::string(SMX_SOURCE_DIR) +
                              "/scripts/make_fnet_tokenizer_fixture.py --out " + out + " 2>&1";
  FILE* pipe = ::popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string output;
  char buffer[1024];
  size_t n = 0;
  while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) output.append(buffer, n);
  ASSERT_EQ(::pclose(pipe), 0) << output;
  for (const char* file : {"cases.json", "tokenizer_config.json"})
    EXPECT_EQ(io::read_text_file(out + "/" + file), io::read_text_file(kFixture + "/" + file))
        << file;
  const Tokenizer made = Tokenizer::load(out + "/spiece.model");
  const Tokenizer committed = Tokenizer::load(kFixture + "/spiece.model");
  ASSERT_EQ(made.vocab_size(), committed.vocab_size());
  for (int32_t id = 0; id < made.vocab_size(); ++id)
    EXPECT_EQ(made.id_to_piece(id), committed.id_to_piece(id)) << "id " << id;
}

}  // namespace hf_sentencepiece_test
}  // namespace smx
