#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "smx/tasks/input_format.h"
#include "tasks/task_test_util.h"

namespace smx::tasks {
namespace {

using ::testing::ElementsAre;
using testing::expect_error;

constexpr int64_t kCls = 101, kSep = 102;

// One id per space-separated word: its length times 10 ("ab cde" -> 20, 30).
std::vector<int32_t> fake_encode(const std::string& text) {
  std::vector<int32_t> ids;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find(' ', start);
    if (end == std::string::npos) end = text.size();
    if (end > start) ids.push_back(static_cast<int32_t>(10 * (end - start)));
    start = end + 1;
  }
  return ids;
}

TEST(TaskInputFormatTest, OneSegment) {
  const EncodedInput e = encode_segments({"a bb"}, fake_encode, kCls, kSep, 512);
  EXPECT_THAT(e.input_ids, ElementsAre(kCls, 10, 20, kSep));
  EXPECT_THAT(e.type_ids, ElementsAre(0, 0, 0, 0));
}

TEST(TaskInputFormatTest, SegmentKAndItsSepGetTypeK) {
  const EncodedInput two = encode_segments({"a bb", "ccc"}, fake_encode, kCls, kSep, 512);
  EXPECT_THAT(two.input_ids, ElementsAre(kCls, 10, 20, kSep, 30, kSep));
  EXPECT_THAT(two.type_ids, ElementsAre(0, 0, 0, 0, 1, 1));
  const EncodedInput three = encode_segments({"a", "bb", "ccc dddd"}, fake_encode, kCls, kSep, 512);
  EXPECT_THAT(three.input_ids, ElementsAre(kCls, 10, kSep, 20, kSep, 30, 40, kSep));
  EXPECT_THAT(three.type_ids, ElementsAre(0, 0, 0, 1, 1, 2, 2, 2));
}

TEST(TaskInputFormatTest, HardTruncationCanDropTheFinalSep) {
  // Full: CLS 10 SEP 20 30 SEP (6 ids).
  const EncodedInput cut = encode_segments({"a", "bb ccc"}, fake_encode, kCls, kSep, 5);
  EXPECT_THAT(cut.input_ids, ElementsAre(kCls, 10, kSep, 20, 30));
  EXPECT_THAT(cut.type_ids, ElementsAre(0, 0, 0, 1, 1));
  const EncodedInput exact = encode_segments({"a", "bb ccc"}, fake_encode, kCls, kSep, 6);
  EXPECT_EQ(exact.input_ids.back(), kSep);
  EXPECT_EQ(encode_segments({"a bb"}, fake_encode, kCls, kSep, 1).input_ids,
            (std::vector<int64_t>{kCls}));
}

TEST(TaskInputFormatTest, SegmentsPastTheLimitAreNotTokenized) {
  int calls = 0;
  auto counting = [&](const std::string& text) {
    ++calls;
    return fake_encode(text);
  };
  const EncodedInput e = encode_segments({"a bb ccc", "dddd", "eeeee"}, counting, kCls, kSep, 3);
  EXPECT_EQ(e.input_ids.size(), 3u);
  EXPECT_EQ(calls, 1);
}

TEST(TaskInputFormatTest, RejectsBadArguments) {
  expect_error([] { encode_segments({}, fake_encode, kCls, kSep, 8); }, {"0 segments"});
  expect_error(
      [] {
        encode_segments({"a", "b", "c", "d"}, fake_encode, kCls, kSep, 8);
      },
      {"4 segments", "1 to 3"});
  expect_error([] { encode_segments({"a"}, fake_encode, kCls, kSep, 0); }, {"max_len is 0"});
}

}  // namespace
}  // namespace smx::tasks
