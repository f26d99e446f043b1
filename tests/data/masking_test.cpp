#include "smx/data/masking.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "smx/core/error.h"

namespace smx {
namespace {

MaskingIds test_ids() {
  MaskingIds ids;
  ids.vocab_size = 50;
  ids.pad = 0, ids.bos = 2, ids.eos = 3, ids.cls = 4, ids.sep = 5, ids.mask = 6;
  return ids;
}

// [CLS] a.. [SEP] b.. [SEP] with ordinary ids 10..49.
PackedExample make_example(Rng& rng, int first, int second) {
  PackedExample ex;
  ex.tokens.push_back(4);
  for (int i = 0; i < first; ++i) ex.tokens.push_back(10 + static_cast<int32_t>(rng.uniform(40)));
  ex.tokens.push_back(5);
  ex.first_length = first + 2;
  for (int i = 0; i < second; ++i) ex.tokens.push_back(10 + static_cast<int32_t>(rng.uniform(40)));
  ex.tokens.push_back(5);
  return ex;
}

TEST(Masking, CountsPositionsAndLabels) {
  const Masker masker(test_ids(), 20, 0.15);
  Rng rng(1);
  for (int len : {1, 2, 5, 10, 40, 57, 100, 200, 400}) {
    const auto ex = make_example(rng, len / 2 + 1, len - len / 2);
    const auto n = static_cast<int64_t>(ex.tokens.size());
    const auto out = masker(ex, rng);
    const int64_t expected = std::min<int64_t>(
        20, std::max<int64_t>(1, static_cast<int64_t>(std::floor(0.15 * n + 1e-9))));
    ASSERT_EQ(static_cast<int64_t>(out.positions.size()), expected) << "n = " << n;
    ASSERT_EQ(out.labels.size(), out.positions.size());
    EXPECT_TRUE(std::is_sorted(out.positions.begin(), out.positions.end()));
    EXPECT_EQ(std::adjacent_find(out.positions.begin(), out.positions.end()), out.positions.end());
    for (std::size_t k = 0; k < out.positions.size(); ++k) {
      const auto pos = out.positions[k];
      EXPECT_EQ(out.labels[k], ex.tokens[pos]);
      EXPECT_NE(ex.tokens[pos], 4);
      EXPECT_NE(ex.tokens[pos], 5);
    }
    // Unchosen positions are untouched.
    for (int32_t i = 0; i < n; ++i) {
      if (!std::binary_search(out.positions.begin(), out.positions.end(), i)) {
        EXPECT_EQ(out.input_ids[i], ex.tokens[i]);
      }
    }
  }
  EXPECT_EQ(masker(make_example(rng, 60, 60), rng).positions.size(), 18u);  // floor(0.15 * 123)
}

TEST(Masking, NeverPicksClsSepOrPad) {
  // Only two candidates among many specials: both are always chosen, nothing else.
  const Masker masker(test_ids(), 80, 0.5);
  Rng rng(2);
  PackedExample ex;
  ex.tokens = {4, 0, 11, 5, 0, 12, 5, 4, 5};
  ex.first_length = 4;
  for (int i = 0; i < 50; ++i) {
    const auto out = masker(ex, rng);
    EXPECT_EQ(out.positions, (std::vector<int32_t>{2, 5}));
  }
}

TEST(Masking, EightyTenTenSplitAndReplacementIds) {
  const Masker masker(test_ids(), 80, 0.15);
  const auto& allowed = masker.replacement_ids();
  for (const int32_t special : {0, 2, 3, 4, 5, 6}) {
    EXPECT_EQ(std::find(allowed.begin(), allowed.end(), special), allowed.end());
  }
  EXPECT_EQ(allowed.size(), 44u);  // 50 ids - 6 excluded (unk stays allowed)
  Rng rng(3);
  int64_t masked = 0, replaced = 0, kept = 0;
  std::vector<int64_t> replacement_counts(50, 0);
  for (int trial = 0; trial < 3000; ++trial) {
    const auto ex = make_example(rng, 100, 100);
    const auto out = masker(ex, rng);
    for (std::size_t k = 0; k < out.positions.size(); ++k) {
      const auto id = out.input_ids[out.positions[k]];
      if (id == 6) {
        ++masked;
      } else if (id == out.labels[k]) {
        ++kept;  // includes random draws that hit the original id (1/44 of the 10%)
      } else {
        ++replaced;
        ++replacement_counts[id];
        ASSERT_NE(std::find(allowed.begin(), allowed.end(), id), allowed.end()) << id;
      }
    }
  }
  const double total = static_cast<double>(masked + replaced + kept);
  EXPECT_NEAR(masked / total, 0.8, 0.01);
  EXPECT_NEAR(replaced / total, 0.1 * 43.0 / 44.0, 0.01);
  EXPECT_NEAR(kept / total, 0.1 + 0.1 / 44.0, 0.01);
  EXPECT_GT(replacement_counts[1], 0) << "unk may be a random replacement";
  EXPECT_GT(replacement_counts[7], 0) << "ids outside the text (7..9) may be drawn too";
}

TEST(Masking, RejectsBadConfiguration) {
  EXPECT_THROW(Masker(test_ids(), 0, 0.15), Error);
  MaskingIds tiny = test_ids();
  tiny.vocab_size = 7;
  tiny.mask = 1;  // ids 0..6 then cover every special and id 6 is the only normal one
  EXPECT_NO_THROW(Masker(tiny, 5, 0.15));
  tiny.vocab_size = 6;
  tiny.mask = 1;
  tiny.pad = 0;
  // {1,4,5,2,3,0} excluded: nothing left
  EXPECT_THROW(Masker(tiny, 5, 0.15), Error);
}

}  // namespace
}  // namespace smx
