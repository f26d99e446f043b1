#include "smx/data/segment_packing.h"

#include <gtest/gtest.h>

namespace smx {
namespace {

constexpr int32_t kCls = 4, kSep = 5;

// Line i holds `lengths[i]` copies of the id 100 + i, so a segment's ids tell which lines it holds.
std::vector<std::vector<int32_t>> make_lines(const std::vector<int>& lengths) {
  std::vector<std::vector<int32_t>> lines;
  for (std::size_t i = 0; i < lengths.size(); ++i) {
    lines.emplace_back(lengths[i], static_cast<int32_t>(100 + i));
  }
  return lines;
}

// The line indices a segment covers, in order of appearance (each line's ids are contiguous).
std::vector<int> lines_of(const std::vector<int32_t>& tokens, std::size_t begin, std::size_t end) {
  std::vector<int> out;
  for (std::size_t i = begin; i < end; ++i) {
    const int line = tokens[i] - 100;
    if (out.empty() || out.back() != line) out.push_back(line);
  }
  return out;
}

TEST(SegmentPacking, LayoutLabelsAndBudget) {
  Rng rng(1);
  const int64_t max_len = 32;
  int in_order = 0, total = 0;
  for (int trial = 0; trial < 400; ++trial) {
    std::vector<int> lengths;
    for (int i = 0; i < 8; ++i) lengths.push_back(1 + static_cast<int>(rng.uniform(12)));
    const auto lines = make_lines(lengths);
    for (const auto& ex : pack_document(lines, max_len, kCls, kSep, rng)) {
      ++total;
      const auto& t = ex.tokens;
      ASSERT_LE(static_cast<int64_t>(t.size()), max_len);
      ASSERT_EQ(t.front(), kCls);
      ASSERT_EQ(t[ex.first_length - 1], kSep);
      ASSERT_EQ(t.back(), kSep);
      EXPECT_EQ(std::count(t.begin(), t.end(), kSep), 2);
      const auto first = lines_of(t, 1, ex.first_length - 1);
      const auto second = lines_of(t, ex.first_length, t.size() - 1);
      ASSERT_FALSE(first.empty());
      ASSERT_FALSE(second.empty());
      // Both segments are runs of consecutive lines; together they are one run.
      const auto& a = ex.nsp_label == 1 ? first : second;
      const auto& b = ex.nsp_label == 1 ? second : first;
      for (std::size_t i = 1; i < a.size(); ++i) EXPECT_EQ(a[i], a[i - 1] + 1);
      for (std::size_t i = 1; i < b.size(); ++i) EXPECT_EQ(b[i], b[i - 1] + 1);
      EXPECT_EQ(a.back() + 1, b.front()) << "label " << ex.nsp_label;
      in_order += ex.nsp_label;
    }
  }
  ASSERT_GT(total, 500);
  EXPECT_NEAR(static_cast<double>(in_order) / total, 0.5, 0.06);
}

TEST(SegmentPacking, FollowsTheGreedyScan) {
  Rng rng(2);
  // Budget 10 = 13 - 3. Lines 0+1 = 12 > 10: skip line 0. Lines 1..3 = 2+3+4 = 9; line 4 would
  // make 15. Then j = 4: 6 + 20 > 10, skip; j = 5: 20 + 1 > 10, skip; j = 6: lines 6,7 = 2.
  const auto lines = make_lines({10, 2, 3, 4, 6, 20, 1, 1});
  const auto examples = pack_document(lines, 13, kCls, kSep, rng);
  ASSERT_EQ(examples.size(), 2u);
  EXPECT_EQ(examples[0].tokens.size(), 9u + 3u);
  EXPECT_EQ(examples[1].tokens.size(), 2u + 3u);
  for (const auto& ex : examples) {
    for (const auto id : ex.tokens) {
      EXPECT_NE(id, 100) << "line 0 (overlong with its neighbour) must be skipped";
      EXPECT_NE(id, 105) << "line 5 (overlong) must be skipped, not truncated";
    }
  }
}

TEST(SegmentPacking, NeedsTwoLines) {
  Rng rng(3);
  EXPECT_TRUE(pack_document(make_lines({3}), 64, kCls, kSep, rng).empty());
  EXPECT_TRUE(pack_document({}, 64, kCls, kSep, rng).empty());
  const auto one = pack_document(make_lines({3, 4}), 64, kCls, kSep, rng);
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(one[0].tokens.size(), 10u);
}

}  // namespace
}  // namespace smx
