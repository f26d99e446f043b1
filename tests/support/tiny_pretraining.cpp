#include "support/tiny_pretraining.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>

#include <gtest/gtest.h>

#include "support/test_util.h"
#include "support/tiny_tokenizer.h"

namespace smx::testing {

ModelConfig tiny_pretraining_config() {
  ModelConfig c = tiny_config("linear", Padding::kMasked);
  c.vocab_size = tiny_tokenizer()->vocab_size();
  c.max_seq_len = 32;
  return c;
}

train::PretrainOptions tiny_pretrain_options(const ScratchDir& dir, const std::string& run,
                                             std::vector<std::string> data_files) {
  train::PretrainOptions o;
  o.out_dir = dir.file(run);
  if (data_files.empty()) {
    data_files = {dir.file("corpus.txt")};
    if (!std::filesystem::exists(data_files[0])) dir.write("corpus.txt", numbered_corpus(120));
  }
  o.data_files = std::move(data_files);
  o.tokenizer = tiny_tokenizer()->path();
  o.steps = 6;
  o.batch_size = 4;
  o.learning_rate = 3e-3;
  o.warmup_steps = 2;
  o.log_every = 100;
  o.eval_every = 0;
  o.eval_batches = 2;
  o.eval_fraction = 0.1;
  o.checkpoint_every = 0;
  o.seed = 5;
  return o;
}

double max_resume_loss_diff(const train::PretrainResult& straight,
                            const train::PretrainResult& first,
                            const train::PretrainResult& second) {
  std::vector<double> joined = first.losses;
  joined.insert(joined.end(), second.losses.begin(), second.losses.end());
  EXPECT_EQ(joined.size(), straight.losses.size()) << "steps before + after the resume";
  if (joined.size() != straight.losses.size()) return std::numeric_limits<double>::infinity();
  double worst = 0;
  for (size_t i = 0; i < joined.size(); ++i)
    worst = std::max(worst, std::abs(joined[i] - straight.losses[i]));
  return worst;
}

}  // namespace smx::testing
