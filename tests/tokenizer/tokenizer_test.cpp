#include "smx/tokenizer/tokenizer.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "smx/core/error.h"
#include "support/scratch_dir.h"

namespace smx {
namespace {

std::string write_training_text(const testing::ScratchDir& dir) {
  std::string text;
  for (const auto& s : testing::sample_sentences(300, 7)) text += s + "\n";
  return dir.write("train.txt", text);
}

TokenizerTrainOptions small_options(const testing::ScratchDir& dir, const std::string& type) {
  TokenizerTrainOptions options;
  options.input_files = {write_training_text(dir)};
  options.vocab_size = 120;
  options.model_type = type;
  options.output_path = (dir.path() / ("tok_" + type + ".model")).string();
  options.character_coverage = 1.0;
  return options;
}

TEST(Tokenizer, TrainedModelHasFixedSpecialIds) {
  testing::ScratchDir dir;
  const auto options = small_options(dir, "bpe");
  Tokenizer::train(options);
  const auto tok = Tokenizer::load(options.output_path);
  EXPECT_EQ(tok.pad_id(), 0);
  EXPECT_EQ(tok.unk_id(), 1);
  EXPECT_EQ(tok.bos_id(), 2);
  EXPECT_EQ(tok.eos_id(), 3);
  EXPECT_EQ(tok.cls_id(), 4);
  EXPECT_EQ(tok.sep_id(), 5);
  EXPECT_EQ(tok.mask_id(), 6);
  EXPECT_EQ(tok.id_to_piece(tok.cls_id()), "[CLS]");
  EXPECT_EQ(tok.id_to_piece(tok.sep_id()), "[SEP]");
  EXPECT_EQ(tok.id_to_piece(tok.mask_id()), "[MASK]");
  EXPECT_GT(tok.vocab_size(), 7);
  EXPECT_LE(tok.vocab_size(), 120);
}

TEST(Tokenizer, EncodeDecodeRoundTrip) {
  testing::ScratchDir dir;
  for (const std::string type : {"bpe", "unigram"}) {
    const auto options = small_options(dir, type);
    Tokenizer::train(options);
    const auto tok = Tokenizer::load(options.output_path);
    const std::string text = "the sparse model routes many tokens before the river.";
    const auto ids = tok.encode(text);
    ASSERT_FALSE(ids.empty()) << type;
    for (const auto id : ids) {
      EXPECT_GE(id, 0);
      EXPECT_LT(id, tok.vocab_size());
      EXPECT_NE(id, tok.unk_id()) << type << ": every character was in the training text";
    }
    EXPECT_EQ(tok.decode(ids), text) << type;
    EXPECT_EQ(tok.encode_pieces(text).size(), ids.size());
  }
}

TEST(Tokenizer, SpecialPiecesInTextEncodeToTheirIds) {
  testing::ScratchDir dir;
  const auto options = small_options(dir, "bpe");
  Tokenizer::train(options);
  const auto tok = Tokenizer::load(options.output_path);
  const auto ids = tok.encode("the [MASK] runs");
  EXPECT_NE(std::find(ids.begin(), ids.end(), tok.mask_id()), ids.end());
}

TEST(Tokenizer, TrainingIsDeterministic) {
  testing::ScratchDir dir;
  auto options = small_options(dir, "unigram");
  options.output_path = (dir.path() / "a.model").string();
  Tokenizer::train(options);
  options.output_path = (dir.path() / "b.model").string();
  Tokenizer::train(options);
  auto read = [](const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  EXPECT_EQ(read(dir.path() / "a.model"), read(dir.path() / "b.model"));
}

TEST(Tokenizer, LoadMissingOrCorruptModelFails) {
  testing::ScratchDir dir;
  const auto missing = (dir.path() / "nope.model").string();
  try {
    Tokenizer::load(missing);
    FAIL() << "expected smx::Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(missing), std::string::npos) << e.what();
  }
  const auto corrupt = dir.write("bad.model", "this is not a protobuf \x01\x02\x03");
  try {
    Tokenizer::load(corrupt);
    FAIL() << "expected smx::Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("not a valid SentencePiece model"), std::string::npos)
        << e.what();
  }
}

TEST(Tokenizer, DecodeRejectsOutOfRangeIds) {
  testing::ScratchDir dir;
  const auto options = small_options(dir, "bpe");
  Tokenizer::train(options);
  const auto tok = Tokenizer::load(options.output_path);
  EXPECT_THROW(tok.decode({tok.vocab_size()}), Error);
  EXPECT_THROW(tok.decode({-1}), Error);
}

TEST(Tokenizer, TrainRejectsBadOptions) {
  testing::ScratchDir dir;
  auto options = small_options(dir, "bpe");
  options.model_type = "wordpiece";
  EXPECT_THROW(Tokenizer::train(options), Error);
  options = small_options(dir, "bpe");
  options.input_files = {(dir.path() / "missing.txt").string()};
  EXPECT_THROW(Tokenizer::train(options), Error);
}

TEST(Tokenizer, TrainingRefusesNonUtf8InputAndItsOwnInputAsOutput) {
  testing::ScratchDir dir;
  auto options = small_options(dir, "bpe");
  const std::string latin1 = dir.write("latin1.txt", "plain line\ncaf\xe9 au lait\n");
  options.input_files = {latin1};
  try {
    Tokenizer::train(options);
    ADD_FAILURE() << "Latin-1 input was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(latin1 + ":2: byte 3"), std::string::npos) << e.what();
  }
  options.input_files = {write_training_text(dir)};
  options.output_path = options.input_files[0];
  EXPECT_THROW(Tokenizer::train(options), Error);
  EXPECT_GT(std::filesystem::file_size(options.input_files[0]), 1000u);  // not overwritten
}

}  // namespace
}  // namespace smx
