#include "smx/data/pretraining_data.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <regex>
#include <set>

#include "smx/core/error.h"
#include "smx/data/pretraining_generator.h"
#include "support/scratch_dir.h"
#include "support/test_util.h"
#include "support/tiny_tokenizer.h"

namespace smx {
namespace {

using testing::numbered_corpus;
using testing::tiny_tokenizer;

// One example of a batch, unpacked: the original ids (masking undone) and the (doc, line) pairs of
// its two segments as written in the corpus.
struct Row {
  std::vector<int64_t> ids;  // unpadded
  std::vector<std::pair<int, int>> first, second;
  int64_t label = -1;
};

std::vector<std::pair<int, int>> parse_lines(const std::string& text) {
  static const std::regex pattern("line (\\d+) of doc (\\d+)");
  std::vector<std::pair<int, int>> out;
  for (std::sregex_iterator it(text.begin(), text.end(), pattern), end; it != end; ++it) {
    out.emplace_back(std::stoi((*it)[2]), std::stoi((*it)[1]));
  }
  return out;
}

std::vector<Row> unpack(const PretrainingBatch& batch) {
  const auto& tok = *tiny_tokenizer();
  const int64_t n = batch.seq_len, p = batch.max_predictions;
  std::vector<Row> rows;
  for (int64_t i = 0; i < batch.batch_size; ++i) {
    Row row;
    std::vector<int64_t> ids(batch.input_ids.begin() + i * n,
                             batch.input_ids.begin() + (i + 1) * n);
    for (int64_t k = 0; k < p; ++k) {
      if (batch.masked_lm_weights[i * p + k] > 0) {
        ids[batch.masked_lm_positions[i * p + k]] = batch.masked_lm_ids[i * p + k];
      }
    }
    while (!ids.empty() && ids.back() == tok.pad_id()) ids.pop_back();
    row.ids = ids;
    std::vector<std::size_t> seps;
    for (std::size_t t = 0; t < ids.size(); ++t) {
      if (ids[t] == tok.sep_id()) seps.push_back(t);
    }
    EXPECT_EQ(seps.size(), 2u);
    if (seps.size() != 2) continue;
    auto text = [&](std::size_t b, std::size_t e) {
      return tok.decode(std::vector<int32_t>(ids.begin() + b, ids.begin() + e));
    };
    row.first = parse_lines(text(1, seps[0]));
    row.second = parse_lines(text(seps[0] + 1, seps[1]));
    row.label = batch.nsp_labels[i];
    rows.push_back(row);
  }
  return rows;
}

int document_of(const Row& row) {
  return row.first.at(0).first;
}

class PretrainingDataTest : public ::testing::Test {
 protected:
  std::vector<std::string> corpus(int docs, int lines_mod = 4) {
    return {dir_.write("corpus" + std::to_string(docs) + ".txt", numbered_corpus(docs, lines_mod))};
  }
  static PretrainingOptions small_options() {
    PretrainingOptions o;
    o.max_seq_len = 48;
    o.batch_size = 4;
    o.seed = 9;
    o.shuffle_buffer = 8;
    return o;
  }
  testing::ScratchDir dir_;
};

using smx::testing::same_batch;

// Every example of one eval pass.
std::vector<Row> whole_pass(PretrainingStream& stream) {
  std::vector<Row> rows;
  while (auto batch = stream.next_batch()) {
    for (auto& row : unpack(*batch)) rows.push_back(std::move(row));
  }
  EXPECT_FALSE(stream.next_batch()) << "an ended eval stream stays ended";
  return rows;
}

TEST_F(PretrainingDataTest, LayoutTypeIdsAndSentenceOrderLabels) {
  auto options = small_options();
  PretrainingStream stream(tiny_tokenizer(), corpus(40), options);
  const auto& tok = *tiny_tokenizer();
  int in_order = 0, total = 0;
  for (int step = 0; step < 30; ++step) {
    const auto batch = stream.next_batch();
    ASSERT_TRUE(batch);
    const int64_t n = batch->seq_len;
    ASSERT_EQ(n, 48);
    ASSERT_EQ(batch->input_ids.size(), static_cast<std::size_t>(batch->batch_size * n));
    const auto rows = unpack(*batch);
    ASSERT_EQ(static_cast<int64_t>(rows.size()), batch->batch_size);
    for (int64_t i = 0; i < batch->batch_size; ++i) {
      const auto& row = rows[i];
      ASSERT_LE(static_cast<int64_t>(row.ids.size()), options.max_seq_len);
      EXPECT_EQ(row.ids.front(), tok.cls_id());
      EXPECT_EQ(row.ids.back(), tok.sep_id());
      const auto first_sep =
          std::find(row.ids.begin(), row.ids.end(), tok.sep_id()) - row.ids.begin();
      for (int64_t t = 0; t < n; ++t) {
        const int64_t expected =
            (t > first_sep && t < static_cast<int64_t>(row.ids.size())) ? 1 : 0;
        ASSERT_EQ(batch->type_ids[i * n + t], expected) << "position " << t;
      }
      // Segments: consecutive lines of one document; label 1 iff the first precedes the second.
      ASSERT_FALSE(row.first.empty());
      ASSERT_FALSE(row.second.empty());
      const auto& a = row.label == 1 ? row.first : row.second;
      const auto& b = row.label == 1 ? row.second : row.first;
      std::vector<std::pair<int, int>> all(a);
      all.insert(all.end(), b.begin(), b.end());
      for (std::size_t k = 1; k < all.size(); ++k) {
        EXPECT_EQ(all[k].first, all[0].first);
        EXPECT_EQ(all[k].second, all[k - 1].second + 1) << "label " << row.label;
      }
      in_order += row.label == 1;
      ++total;
    }
  }
  EXPECT_GT(in_order, total / 4);
  EXPECT_LT(in_order, 3 * total / 4);
}

TEST_F(PretrainingDataTest, MaskedLmSlots) {
  auto options = small_options();
  options.max_predictions = 5;
  PretrainingStream stream(tiny_tokenizer(), corpus(40), options);
  const auto& tok = *tiny_tokenizer();
  for (int step = 0; step < 20; ++step) {
    const auto batch = stream.next_batch();
    ASSERT_TRUE(batch);
    const int64_t n = batch->seq_len, p = batch->max_predictions;
    ASSERT_EQ(p, 5);
    const auto rows = unpack(*batch);
    for (int64_t i = 0; i < batch->batch_size; ++i) {
      const auto len = static_cast<int64_t>(rows[i].ids.size());
      const int64_t expected = std::min<int64_t>(5, std::max<int64_t>(1, len * 15 / 100));
      int64_t real = 0;
      for (int64_t k = 0; k < p; ++k) {
        const float w = batch->masked_lm_weights[i * p + k];
        ASSERT_TRUE(w == 0.0f || w == 1.0f);
        if (w == 0.0f) {
          EXPECT_EQ(batch->masked_lm_positions[i * p + k], 0);
          EXPECT_EQ(batch->masked_lm_ids[i * p + k], 0);
          continue;
        }
        ASSERT_EQ(k, real) << "real predictions come first";
        ++real;
        const auto pos = batch->masked_lm_positions[i * p + k];
        ASSERT_GT(pos, 0);
        ASSERT_LT(pos, len);
        const auto label = batch->masked_lm_ids[i * p + k];
        EXPECT_NE(label, tok.cls_id());
        EXPECT_NE(label, tok.sep_id());
        EXPECT_NE(label, tok.pad_id());
        if (k > 0) {
          EXPECT_GT(pos, batch->masked_lm_positions[i * p + k - 1]);
        }
        const auto shown = batch->input_ids[i * n + pos];
        EXPECT_TRUE(shown == tok.mask_id() ||
                    (shown != tok.cls_id() && shown != tok.sep_id() && shown != tok.pad_id()));
      }
      EXPECT_EQ(real, expected) << "n = " << len;
    }
  }
}

TEST_F(PretrainingDataTest, DefaultMaxPredictionsScalesWithLength) {
  EXPECT_EQ(default_max_predictions(512), 80);
  EXPECT_EQ(default_max_predictions(128), 20);
  EXPECT_EQ(default_max_predictions(48), 8);  // round(7.5)
  EXPECT_EQ(default_max_predictions(5), 1);
  auto options = small_options();
  PretrainingStream stream(tiny_tokenizer(), corpus(10), options);
  EXPECT_EQ(stream.next_batch()->max_predictions, 8);
}

TEST_F(PretrainingDataTest, PaddingModes) {
  auto options = small_options();
  options.max_seq_len = 100;
  const auto files = corpus(30);
  PretrainingStream reference(tiny_tokenizer(), files, options);
  options.padding = PaddingMode::masked;
  PretrainingStream masked(tiny_tokenizer(), files, options);
  for (int step = 0; step < 10; ++step) {
    const auto r = reference.next_batch();
    const auto m = masked.next_batch();
    ASSERT_TRUE(r && m);
    EXPECT_EQ(r->seq_len, 100);
    EXPECT_EQ(m->seq_len % 8, 0);
    EXPECT_LT(m->seq_len, 100) << "these documents are short";
    EXPECT_EQ(m->input_ids.size(), static_cast<std::size_t>(m->batch_size * m->seq_len));
    EXPECT_EQ(m->type_ids.size(), m->input_ids.size());
    // Same examples, only the padding differs.
    std::size_t longest = 0;
    for (int64_t i = 0; i < m->batch_size; ++i) {
      for (int64_t t = 0; t < 100; ++t) {
        const auto rv = r->input_ids[i * 100 + t];
        if (t < m->seq_len) {
          ASSERT_EQ(m->input_ids[i * m->seq_len + t], rv);
        } else {
          ASSERT_EQ(rv, tiny_tokenizer()->pad_id());
        }
        if (rv != tiny_tokenizer()->pad_id()) longest = std::max<std::size_t>(longest, t + 1);
      }
    }
    EXPECT_EQ(m->seq_len, static_cast<int64_t>((longest + 7) / 8 * 8));
    EXPECT_EQ(m->masked_lm_positions, r->masked_lm_positions);
  }
}

TEST_F(PretrainingDataTest, DeterministicForASeed) {
  const auto files = corpus(30);
  auto options = small_options();
  PretrainingStream a(tiny_tokenizer(), files, options);
  PretrainingStream b(tiny_tokenizer(), files, options);
  options.seed = 10;
  PretrainingStream c(tiny_tokenizer(), files, options);
  bool any_difference = false;
  for (int step = 0; step < 25; ++step) {
    const auto x = a.next_batch(), y = b.next_batch(), z = c.next_batch();
    ASSERT_TRUE(same_batch(*x, *y)) << "step " << step;
    any_difference |= !same_batch(*x, *z);
  }
  EXPECT_TRUE(any_difference);
}

TEST_F(PretrainingDataTest, RanksReadDisjointDocumentsThatCoverTheCorpus) {
  const auto files = corpus(50);
  auto options = small_options();
  options.split = Split::eval;
  options.eval_fraction = 1.0;  // one pass over every document
  PretrainingStream all(tiny_tokenizer(), files, options);
  const auto everything = whole_pass(all);
  std::multiset<int> all_docs, union_docs;
  for (const auto& row : everything) all_docs.insert(document_of(row));
  EXPECT_EQ(std::set<int>(all_docs.begin(), all_docs.end()).size(), 50u);

  options.world_size = 2;
  std::set<int> seen[2];
  for (int rank = 0; rank < 2; ++rank) {
    options.rank = rank;
    PretrainingStream shard(tiny_tokenizer(), files, options);
    for (const auto& row : whole_pass(shard)) {
      EXPECT_EQ(document_of(row) % 2, rank);
      seen[rank].insert(document_of(row));
      union_docs.insert(document_of(row));
    }
  }
  for (const int d : seen[0]) EXPECT_EQ(seen[1].count(d), 0u) << d;
  EXPECT_EQ(union_docs, all_docs) << "together the shards give every example exactly once";
}

TEST_F(PretrainingDataTest, EvalSplitIsDisjointFromTrain) {
  const auto files = corpus(60);
  auto options = small_options();
  options.eval_fraction = 0.25;
  options.split_seed = 3;
  options.split = Split::eval;
  PretrainingStream eval(tiny_tokenizer(), files, options);
  std::set<int> eval_docs;
  for (const auto& row : whole_pass(eval)) eval_docs.insert(document_of(row));
  EXPECT_GT(eval_docs.size(), 5u);
  EXPECT_LT(eval_docs.size(), 30u);

  options.split = Split::train;
  PretrainingStream train(tiny_tokenizer(), files, options);
  std::set<int> train_docs;
  for (int step = 0; step < 100; ++step) {  // ~4 epochs of the ~100 train examples
    for (const auto& row : unpack(*train.next_batch())) train_docs.insert(document_of(row));
  }
  for (const int d : eval_docs) EXPECT_EQ(train_docs.count(d), 0u) << d;
  EXPECT_EQ(eval_docs.size() + train_docs.size(), 60u);
}

TEST_F(PretrainingDataTest, ResumeGivesIdenticalBatches) {
  const auto files = corpus(25);  // ~60 examples: several epochs in 60 batches
  for (const int64_t buffer : {int64_t{1024}, int64_t{8}}) {
    auto options = small_options();
    options.shuffle_buffer = buffer;
    PretrainingStream uninterrupted(tiny_tokenizer(), files, options);
    for (int k = 0; k < 7; ++k) uninterrupted.next_batch();
    const auto saved = uninterrupted.state();
    std::vector<PretrainingBatch> expected;
    for (int k = 0; k < 60; ++k) expected.push_back(*uninterrupted.next_batch());

    PretrainingStream resumed(tiny_tokenizer(), files, options, saved);
    for (int k = 0; k < 60; ++k) {
      ASSERT_TRUE(same_batch(*resumed.next_batch(), expected[k]))
          << "buffer " << buffer << " k " << k;
    }
    // restore() on a running stream goes back too, and batch size may change.
    resumed.restore(saved);
    EXPECT_TRUE(same_batch(*resumed.next_batch(), expected[0]));
    EXPECT_EQ(resumed.state(), [&] {
      PretrainingStream s(tiny_tokenizer(), files, options, saved);
      s.next_batch();
      return s.state();
    }());
  }
}

TEST_F(PretrainingDataTest, ResumeAnEvalPass) {
  const auto files = corpus(30);
  auto options = small_options();
  options.split = Split::eval;
  options.eval_fraction = 0.5;
  PretrainingStream first(tiny_tokenizer(), files, options);
  first.next_batch();
  first.next_batch();
  const auto saved = first.state();
  std::vector<PretrainingBatch> rest;
  while (auto b = first.next_batch()) rest.push_back(*b);
  ASSERT_FALSE(rest.empty());
  PretrainingStream resumed(tiny_tokenizer(), files, options, saved);
  for (const auto& b : rest) ASSERT_TRUE(same_batch(*resumed.next_batch(), b));
  EXPECT_FALSE(resumed.next_batch());
  // The state of an ended pass resumes as ended.
  PretrainingStream ended(tiny_tokenizer(), files, options, first.state());
  EXPECT_FALSE(ended.next_batch());
}

TEST_F(PretrainingDataTest, RestoreRejectsMismatchedState) {
  const auto files = corpus(20);
  auto options = small_options();
  PretrainingStream stream(tiny_tokenizer(), files, options);
  stream.next_batch();
  const auto saved = stream.state();
  auto other = options;
  other.seed = 1234;
  EXPECT_THROW(PretrainingStream(tiny_tokenizer(), files, other, saved), Error);
  other = options;
  other.batch_size = 3;  // allowed
  EXPECT_NO_THROW(PretrainingStream(tiny_tokenizer(), files, other, saved));
  EXPECT_THROW(PretrainingStream(tiny_tokenizer(), corpus(21), options, saved), Error);
  EXPECT_THROW(stream.restore("{not json"), Error);
  // A rejected state leaves the stream where it was.
  PretrainingStream reference(tiny_tokenizer(), files, options, saved);
  EXPECT_TRUE(same_batch(*stream.next_batch(), *reference.next_batch()));
}

TEST_F(PretrainingDataTest, WorkerErrorsReachTheConsumer) {
  std::string text = numbered_corpus(20);
  text += "\nline 0 of doc 99\nbroken \xFF line\n";
  const auto path = dir_.write("bad.txt", text);
  PretrainingStream stream(tiny_tokenizer(), {path}, small_options());
  std::string message;
  try {
    for (int i = 0; i < 100; ++i) stream.next_batch();
  } catch (const Error& e) {
    message = e.what();
  }
  EXPECT_NE(message.find("bad.txt:"), std::string::npos) << message;
  EXPECT_NE(message.find("invalid UTF-8"), std::string::npos) << message;
  EXPECT_THROW(stream.next_batch(), Error) << "the error is sticky";
}

TEST_F(PretrainingDataTest, TrainingWithoutExamplesFails) {
  // Every document has a single line: no example can be formed.
  const auto path = dir_.write("single.txt", "line 0 of doc 0\n\nline 0 of doc 1\n");
  PretrainingStream stream(tiny_tokenizer(), {path}, small_options());
  EXPECT_THROW(stream.next_batch(), Error);
}

TEST_F(PretrainingDataTest, SkipsLinesLongerThanTheBudget) {
  // max_seq_len 16: budget 13 tokens. The long middle line never appears; short pairs do.
  std::string long_line = "line 1 of doc 0";
  for (int i = 0; i < 10; ++i) long_line += " line 1 of doc 0";
  const auto path = dir_.write(
      "long.txt", "line 0 of doc 0\n" + long_line + "\nline 2 of doc 0\nline 3 of doc 0\n");
  auto options = small_options();
  options.max_seq_len = 16;
  options.split = Split::eval;
  options.eval_fraction = 1.0;
  PretrainingStream stream(tiny_tokenizer(), {path}, options);
  const auto rows = whole_pass(stream);
  ASSERT_EQ(rows.size(), 1u);
  std::set<int> lines;
  for (const auto& p : rows[0].first) lines.insert(p.second);
  for (const auto& p : rows[0].second) lines.insert(p.second);
  EXPECT_EQ(lines, (std::set<int>{2, 3}));
  EXPECT_LE(rows[0].ids.size(), 16u);
}

TEST_F(PretrainingDataTest, RejectsBadOptions) {
  const auto files = corpus(5);
  auto bad = [&](auto edit) {
    auto o = small_options();
    edit(o);
    EXPECT_THROW(PretrainingStream(tiny_tokenizer(), files, o), Error);
  };
  bad([](PretrainingOptions& o) { o.max_seq_len = 4; });
  bad([](PretrainingOptions& o) { o.rank = 2, o.world_size = 2; });
  bad([](PretrainingOptions& o) { o.split = Split::eval, o.eval_fraction = 0; });
  bad([](PretrainingOptions& o) { o.eval_fraction = 1.0; });
  bad([](PretrainingOptions& o) { o.batch_size = 0; });
  bad([](PretrainingOptions& o) { o.masking_prob = 0; });
  EXPECT_THROW(parse_padding_mode("none"), Error);
  EXPECT_EQ(parse_split("eval"), Split::eval);
}

}  // namespace
}  // namespace smx
