// InferenceEngine: one model call on a batch of tokenized inputs, returning each input's outputs
// as plain float vectors. Inputs are padded to config.padded_length(longest) (masked padding) or
// max_seq_len (reference padding). With a batch-invariant model (ModelBundle::batch_invariant)
// an input's outputs do not depend on what else is in the batch.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "smx/serve/model_bundle.h"
#include "smx/serve/pooling.h"

namespace smx::serve {

enum class Precision { kFp32, kBf16 };  // bf16: CPU/GPU autocast; router and outputs stay fp32
Precision parse_precision(const std::string& text);  // "fp32" | "bf16"; throws otherwise
std::string to_string(Precision precision);

// What to compute for one input.
enum class OutputKind { kCls, kMean, kTokens, kLogits, kLast, kClsToken, kMax };
OutputKind output_kind(Pooling pooling);

struct ExampleOutput {
  std::vector<float> values;  // row-major [rows, cols]
  int64_t rows = 1;           // 1, or the number of tokens for kTokens
  int64_t cols = 0;

  // Whether every value is finite (a model with corrupt weights gives NaN / Inf).
  bool finite() const;
};

struct BatchRequest {
  const tasks::EncodedInput* input = nullptr;
  OutputKind kind = OutputKind::kCls;
};

class InferenceEngine {
 public:
  InferenceEngine(std::shared_ptr<const ModelBundle> bundle, Precision precision);

  // One forward call for all of `batch`; results in the same order. Thread-compatible: one caller
  // at a time.
  std::vector<ExampleOutput> run(const std::vector<BatchRequest>& batch) const;

  // Padded tokens a batch of `count` inputs whose longest has `longest` tokens costs.
  int64_t batch_cost(int64_t count, int64_t longest) const;
  const ModelBundle& bundle() const { return *bundle_; }

 private:
  std::shared_ptr<const ModelBundle> bundle_;
  Precision precision_;
};

// Groups inputs of the given token lengths into batches for length-bucketed batching: sorted by
// length (stable, so equal lengths keep their order), each batch's padded cost
// (count x padded length of its longest) within `max_batch_tokens` and at most `max_batch_size`
// inputs; an input over the budget on its own gets a batch of one. Returns indices into `lengths`.
std::vector<std::vector<size_t>> plan_batches(const std::vector<int64_t>& lengths,
                                              const InferenceEngine& engine,
                                              int64_t max_batch_tokens, int64_t max_batch_size);

}  // namespace smx::serve
