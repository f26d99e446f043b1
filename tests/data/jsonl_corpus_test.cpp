// JSON Lines shards, plain and compressed: the same documents as the text form, globs and lists,
// and every bad input named by shard and line (or counted and skipped).
#include <gtest/gtest.h>

#include <filesystem>

#include "data/corpus_shards.h"
#include "smx/core/error.h"
#include "smx/data/corpus_check.h"
#include "smx/data/corpus_files.h"
#include "smx/data/text_corpus.h"
#include "support/scratch_dir.h"
#include "support/test_util.h"
#include "support/tiny_tokenizer.h"

namespace smx {
namespace {

using testing::gzip_member;
using testing::gzip_parts;
using testing::jsonl_from_text_corpus;
using testing::numbered_corpus;
using testing::zstd_frame;
using testing::zstd_parts;

using smx::testing::error_of;

std::vector<Document> all_documents(TextCorpus& corpus) {
  std::vector<Document> docs;
  while (auto d = corpus.next()) docs.push_back(std::move(*d));
  return docs;
}

// Splits text in three parts at line boundaries (for multi-member / multi-frame files).
std::vector<std::string> three_parts(const std::string& text) {
  const auto a = text.find('\n', text.size() / 3) + 1;
  const auto b = text.find('\n', 2 * text.size() / 3) + 1;
  return {text.substr(0, a), text.substr(a, b - a), text.substr(b)};
}

TEST(JsonlCorpus, SplitsTextAtEveryLineBreakOfSplitlines) {
  EXPECT_EQ(
      split_text_lines("a\nb\r\nc\rd\ve\ff\x1cg\x1dh\x1ei\xC2\x85j\xE2\x80\xA8k\xE2\x80\xA9l"),
      (std::vector<std::string>{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l"}));
  EXPECT_EQ(split_text_lines("first para.\n\n  \t\nsecond para.\n"),
            (std::vector<std::string>{"first para.", "second para."}));
  EXPECT_EQ(split_text_lines("caf\xC3\xA9 \xE2\x80\x94 ok"),
            (std::vector<std::string>{"caf\xC3\xA9 \xE2\x80\x94 ok"}))
      << "other multi-byte characters are no line breaks";
  EXPECT_TRUE(split_text_lines("").empty());
}

TEST(JsonlCorpus, PlainGzipAndZstdGiveTheDocumentsOfTheTextForm) {
  testing::ScratchDir dir;
  const std::string text = numbered_corpus(60);
  const std::string jsonl = jsonl_from_text_corpus(text);
  TextCorpus reference({dir.write("c.txt", text)});
  const auto expected = all_documents(reference);
  ASSERT_EQ(expected.size(), 60u);
  const std::vector<std::string> files = {
      dir.write("c.jsonl", jsonl),
      dir.write("c.jsonl.gz", gzip_member(jsonl)),
      dir.write("c3.jsonl.gz", gzip_parts(three_parts(jsonl))),
      dir.write("c.jsonl.zst", zstd_frame(jsonl)),
      dir.write("c3.json.zst", zstd_parts(three_parts(jsonl))),
      dir.write("c.txt.gz", gzip_member(text)),  // compressed text form
  };
  for (const auto& file : files) {
    TextCorpus corpus({file});
    const auto docs = all_documents(corpus);
    ASSERT_EQ(docs.size(), expected.size()) << file;
    for (std::size_t i = 0; i < docs.size(); ++i) {
      EXPECT_EQ(docs[i].index, expected[i].index) << file;
      EXPECT_EQ(docs[i].lines, expected[i].lines) << file << " document " << i;
    }
  }
}

TEST(JsonlCorpus, SeekIntoACompressedShardResumesThere) {
  testing::ScratchDir dir;
  const std::string jsonl = jsonl_from_text_corpus(numbered_corpus(90));
  for (const auto& file : {dir.write("s.jsonl.gz", gzip_member(jsonl)),
                           dir.write("m.jsonl.gz", gzip_parts(three_parts(jsonl))),
                           dir.write("m.jsonl.zst", zstd_parts(three_parts(jsonl)))}) {
    TextCorpus corpus({file});
    for (int i = 0; i < 70; ++i) corpus.next();  // into the third part
    const CorpusPosition at = corpus.position();
    const auto rest = all_documents(corpus);
    EXPECT_GT(at.byte_offset, 0u);
    const bool multi = file.find("/m.") != std::string::npos;
    if (multi) {
      EXPECT_GT(at.restart.compressed, 0u) << file << ": resumes from its third part";
    } else {
      EXPECT_EQ(at.restart.compressed, 0u) << file << ": one member, decoded from the start";
    }
    TextCorpus resumed({file});
    resumed.seek(at);
    const auto again = all_documents(resumed);
    ASSERT_EQ(again.size(), rest.size()) << file;
    for (std::size_t i = 0; i < rest.size(); ++i) {
      EXPECT_EQ(again[i].index, rest[i].index);
      EXPECT_EQ(again[i].lines, rest[i].lines);
    }
  }
}

TEST(JsonlCorpus, TextFieldFormatOptionAndBlankLines) {
  testing::ScratchDir dir;
  const auto file = dir.write("wiki_00",
                              "{\"id\": \"1\", \"body\": \"Title\\n\\nPara one.\\nPara two.\"}\n"
                              "\n"
                              "{\"id\": \"2\", \"body\": \"\"}\n");
  CorpusOptions options;
  options.format = CorpusFormat::jsonl;  // wikiextractor --json names its files wiki_00, ...
  options.text_field = "body";
  TextCorpus corpus({file}, options);
  const auto docs = all_documents(corpus);
  ASSERT_EQ(docs.size(), 2u) << "a blank line is no document; an empty text is one";
  EXPECT_EQ(docs[0].lines, (std::vector<std::string>{"Title", "Para one.", "Para two."}));
  EXPECT_TRUE(docs[1].lines.empty());
  EXPECT_EQ(docs[1].index, 1u);
  EXPECT_EQ(docs[1].first_line, 3u);
  // As text, the same file is one document of three JSON lines.
  TextCorpus as_text({file});
  EXPECT_EQ(all_documents(as_text).size(), 2u);
}

struct BadCase {
  std::string name;     // file name
  std::string bytes;    // file contents
  std::string where;    // expected in the message: "name:line"
  std::string what;     // expected in the message
  uint64_t good_after;  // documents still read after the bad record with skip_bad_records
};

std::string good_lines(int from, int count) {
  std::string out;
  for (int i = from; i < from + count; ++i)
    out += "{\"text\": \"line 0 of doc " + std::to_string(i) + "\\nline 1 of doc " +
           std::to_string(i) + "\"}\n";
  return out;
}

std::vector<BadCase> bad_cases() {
  const std::string head = good_lines(0, 2);
  // Two members / frames; the second one's magic bytes are damaged, so decoding fails right there,
  // at line 1501, after 1500 good records.
  const std::string part1 = good_lines(0, 1500), part2 = good_lines(1500, 1500);
  std::string gz2 = gzip_member(part2), zs2 = zstd_frame(part2);
  gz2[0] ^= 0x5A;
  zs2[1] ^= 0x5A;
  const std::string gz = gzip_member(part1) + gz2, zs = zstd_frame(part1) + zs2;
  const std::string cut =
      gzip_member(part1 + part2).substr(0, gzip_member(part1 + part2).size() / 2);
  return {
      {"notjson.jsonl", head + "{\"text\": \"unterminated\n" + good_lines(2, 1), "notjson.jsonl:3",
       "", 1},
      {"array.jsonl", head + "[\"text\"]\n" + good_lines(2, 1), "array.jsonl:3", "not an object",
       1},
      {"missing.jsonl", head + "{\"body\": \"x\"}\n" + good_lines(2, 1), "missing.jsonl:3",
       "no \"text\" field", 1},
      {"number.jsonl", head + "{\"text\": 42}\n" + good_lines(2, 1), "number.jsonl:3",
       "field \"text\" holds a JSON number, not a string", 1},
      {"badutf8.jsonl", head + "{\"text\": \"caf\xE9\"}\n" + good_lines(2, 1), "badutf8.jsonl:3",
       "", 1},
      {"corrupt.jsonl.gz", gz, "corrupt.jsonl.gz:1501", "corrupt gzip data", 0},
      {"corrupt.jsonl.zst", zs, "corrupt.jsonl.zst:1501", "corrupt zstd data", 0},
      {"cut.jsonl.gz", cut, "cut.jsonl.gz:", "truncated gzip data", 0},
  };
}

TEST(JsonlCorpus, BadRecordsNameShardAndLineOrAreSkipped) {
  testing::ScratchDir dir;
  for (const auto& c : bad_cases()) {
    const auto path = dir.write(c.name, c.bytes);
    const auto after = dir.write("after.jsonl", good_lines(100, 3));
    TextCorpus strict({path, after});
    const std::string message = error_of([&] { all_documents(strict); });
    EXPECT_NE(message.find(c.where), std::string::npos) << c.name << ": " << message;
    EXPECT_NE(message.find(c.what), std::string::npos) << c.name << ": " << message;

    CorpusOptions skip;
    skip.skip_bad_records = true;
    TextCorpus lenient({path, after}, skip);
    const auto docs = all_documents(lenient);
    EXPECT_EQ(lenient.bad_records(), 1u) << c.name;
    EXPECT_NE(lenient.last_bad_record().find(c.where), std::string::npos) << c.name;
    // The documents of the next shard are all read.
    ASSERT_GE(docs.size(), 3u) << c.name;
    EXPECT_EQ(docs.back().lines,
              (std::vector<std::string>{"line 0 of doc 102", "line 1 of doc 102"}));
    if (c.good_after > 0) {
      // A skipped record keeps its index: the one after it is document 3.
      ASSERT_EQ(docs.size(), 2u + c.good_after + 3u) << c.name;
      EXPECT_EQ(docs[2].index, 3u) << c.name;
    }
    std::printf("    %-18s -> %s\n", c.name.c_str(), message.c_str());
  }
}

TEST(JsonlCorpus, BadTextLinesAreSkippedToo) {
  testing::ScratchDir dir;
  const auto path = dir.write("latin1.txt.gz", gzip_member("ok\ncaf\xE9\nfine\n\nnext\n"));
  TextCorpus strict({path});
  EXPECT_NE(error_of([&] { all_documents(strict); }).find("latin1.txt.gz:2: invalid UTF-8"),
            std::string::npos);
  CorpusOptions skip;
  skip.skip_bad_records = true;
  TextCorpus lenient({path}, skip);
  const auto docs = all_documents(lenient);
  ASSERT_EQ(docs.size(), 2u);
  EXPECT_EQ(docs[0].lines, (std::vector<std::string>{"ok", "fine"}));
  EXPECT_EQ(lenient.bad_records(), 1u);
}

TEST(JsonlCorpus, AShardThatVanishesMidRunIsNamed) {
  testing::ScratchDir dir;
  const auto first = dir.write("a.jsonl", good_lines(0, 3));
  const auto second = dir.write("b.jsonl.gz", gzip_member(good_lines(3, 3)));
  const auto third = dir.write("c.jsonl", good_lines(6, 3));
  {
    TextCorpus corpus({first, second, third});
    corpus.next();
    std::filesystem::remove(second);
    const auto message = error_of([&] { all_documents(corpus); });
    EXPECT_NE(message.find("b.jsonl.gz:1"), std::string::npos) << message;
    EXPECT_NE(message.find("moved, deleted"), std::string::npos) << message;
  }
  dir.write("b.jsonl.gz", gzip_member(good_lines(3, 3)));
  CorpusOptions skip;
  skip.skip_bad_records = true;
  TextCorpus corpus({first, second, third}, skip);
  corpus.next();
  std::filesystem::remove(second);
  const auto docs = all_documents(corpus);
  EXPECT_EQ(docs.size(), 5u) << "two of a, none of b, three of c";
  EXPECT_EQ(corpus.bad_records(), 1u);
}

TEST(JsonlCorpus, GlobsAndListsExpandInOrder) {
  testing::ScratchDir dir;
  std::filesystem::create_directories(dir.path() / "c4" / "en");
  const auto shard = [&](int i) {
    return dir.write("c4/en/c4-train.0000" + std::to_string(i) + "-of-00004.json.gz",
                     gzip_member(good_lines(i, 1)));
  };
  const std::vector<std::string> shards = {shard(2), shard(0), shard(3), shard(1)};
  const auto files = expand_corpus_files({dir.file("c4/en/c4-train.*.json.gz")});
  EXPECT_EQ(files, (std::vector<std::string>{shards[1], shards[3], shards[0], shards[2]}));
  const auto list = dir.write(
      "shards.txt", "# two shards\nc4/en/c4-train.00003-of-00004.json.gz\n\n" + shards[1] + "\n");
  EXPECT_EQ(expand_corpus_files({"@" + list}), (std::vector<std::string>{shards[2], shards[1]}));
  EXPECT_NE(error_of([&] {
              expand_corpus_files({dir.file("c4/en/*.jsonl")});
            }).find("no file matches the pattern"),
            std::string::npos);
  EXPECT_NE(
      error_of([&] { expand_corpus_files({"@" + dir.file("nope.txt")}); }).find("cannot be opened"),
      std::string::npos);
  const auto check = check_corpus({dir.file("c4/en/*.json.gz")}, CorpusOptions{});
  EXPECT_EQ(check.files, 4u);
  EXPECT_EQ(check.documents, 4u);
  EXPECT_FALSE(check.complete) << "compressed shards: only their first documents are checked";
}

}  // namespace
}  // namespace smx
