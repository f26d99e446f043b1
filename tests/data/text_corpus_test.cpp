#include "smx/data/text_corpus.h"

#include <gtest/gtest.h>

#include "smx/core/error.h"
#include "support/scratch_dir.h"
#include "support/test_util.h"

namespace smx {
namespace {

// The error message of `fn`, which must throw smx::Error.
using smx::testing::error_of;

TEST(TextCorpus, SplitsDocumentsOnBlankLinesAcrossFiles) {
  testing::ScratchDir dir;
  const auto a = dir.write("a.txt", "\n\na1\r\na2\n\n  \nb1\n");
  const auto b = dir.write("b.txt",
                           "\xEF\xBB\xBF"
                           "c1\nc2\nc3");
  TextCorpus corpus({a, b});
  auto d0 = corpus.next();
  ASSERT_TRUE(d0);
  EXPECT_EQ(d0->index, 0u);
  EXPECT_EQ(d0->lines, (std::vector<std::string>{"a1", "a2"}));
  EXPECT_EQ(d0->first_line, 3u);
  auto d1 = corpus.next();
  ASSERT_TRUE(d1);
  EXPECT_EQ(d1->lines, (std::vector<std::string>{"b1"}));
  EXPECT_EQ(d1->file, a);
  auto d2 = corpus.next();
  ASSERT_TRUE(d2);
  EXPECT_EQ(d2->index, 2u);
  EXPECT_EQ(d2->file, b);
  EXPECT_EQ(d2->lines, (std::vector<std::string>{"c1", "c2", "c3"}));
  EXPECT_FALSE(corpus.next());
  corpus.rewind();
  EXPECT_EQ(corpus.next()->lines, d0->lines);
}

TEST(TextCorpus, SeekResumesAtThePosition) {
  testing::ScratchDir dir;
  const auto a = dir.write("a.txt", "x1\nx2\n\ny1\n\nz1\nz2\n");
  TextCorpus corpus({a});
  corpus.next();
  const auto position = corpus.position();
  const auto y = corpus.next();
  const auto z = corpus.next();
  TextCorpus other({a});
  other.seek(position);
  EXPECT_EQ(other.next()->lines, y->lines);
  const auto z2 = other.next();
  EXPECT_EQ(z2->lines, z->lines);
  EXPECT_EQ(z2->index, 2u);
  EXPECT_EQ(z2->first_line, 6u);
}

TEST(TextCorpus, RejectsMissingEmptyAndBinaryFiles) {
  testing::ScratchDir dir;
  const auto missing = (dir.path() / "missing.txt").string();
  EXPECT_NE(error_of([&] { TextCorpus({missing}); }).find(missing), std::string::npos);
  const auto empty = dir.write("empty.txt", "");
  EXPECT_NE(error_of([&] { TextCorpus({empty}); }).find("empty.txt is empty"), std::string::npos);
  const auto binary = dir.write("bin.txt", std::string("abc\0def\n", 8));
  EXPECT_NE(error_of([&] { TextCorpus({binary}); }).find("bin.txt looks binary"),
            std::string::npos);
  EXPECT_THROW(TextCorpus({}), Error);
}

TEST(TextCorpus, FindsNulBytesPastTheSniffedPrefix) {
  testing::ScratchDir dir;
  std::string text;
  int lines = 0;
  for (; text.size() < 70000; ++lines) text += "a perfectly fine line of text\n";
  text += std::string("bad\0line\n", 9);
  const auto path = dir.write("late.txt", text);
  TextCorpus corpus({path});  // the first 64 KiB are clean
  const auto message = error_of([&] { corpus.next(); });
  const auto where = "late.txt:" + std::to_string(lines + 1) + ": NUL byte";
  EXPECT_NE(message.find(where), std::string::npos) << message;
}

TEST(TextCorpus, InvalidUtf8NamesFileAndLine) {
  testing::ScratchDir dir;
  const auto path = dir.write("latin1.txt", "ok\nfine\n\ncaf\xE9\n");
  TextCorpus corpus({path});
  EXPECT_EQ(corpus.next()->lines.size(), 2u);
  const auto message = error_of([&] { corpus.next(); });
  EXPECT_NE(message.find("latin1.txt:4: invalid UTF-8 at byte 3"), std::string::npos) << message;
}

TEST(TextCorpus, HeldOutSplitIsDeterministicAndNearTheFraction) {
  int eval = 0;
  for (uint64_t d = 0; d < 20000; ++d) {
    const bool e = is_eval_document(d, 5, 0.1);
    EXPECT_EQ(e, is_eval_document(d, 5, 0.1));
    EXPECT_FALSE(is_eval_document(d, 5, 0.0));
    EXPECT_TRUE(is_eval_document(d, 5, 1.0));
    eval += e;
  }
  EXPECT_NEAR(eval, 2000, 150);
  int differs = 0;
  for (uint64_t d = 0; d < 1000; ++d)
    differs += is_eval_document(d, 5, 0.5) != is_eval_document(d, 6, 0.5);
  EXPECT_GT(differs, 300);  // the seed changes the split
}

}  // namespace
}  // namespace smx
