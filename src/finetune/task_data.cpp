#include "smx/finetune/task_data.h"

#include <algorithm>
#include <numeric>
#include <random>

#include <torch/torch.h>

#include "smx/core/error.h"

namespace smx::finetune {
namespace {

constexpr int64_t kBucketWindow = 50;  // batches sorted by length together

void sort_by_length(std::vector<size_t>& rows, const std::vector<int64_t>& lengths) {
  std::stable_sort(rows.begin(), rows.end(),
                   [&](size_t a, size_t b) { return lengths[a] < lengths[b]; });
}

}  // namespace

std::vector<int64_t> EncodedExamples::lengths() const {
  std::vector<int64_t> out;
  out.reserve(inputs.size());
  for (const auto& input : inputs) out.push_back(static_cast<int64_t>(input.input_ids.size()));
  return out;
}

EncodedExamples encode_examples(const std::vector<tasks::TaskExample>& examples,
                                const Tokenizer& tokenizer, int64_t max_len) {
  EncodedExamples out;
  out.inputs.reserve(examples.size());
  out.labels.reserve(examples.size());
  const auto encode = [&](const std::string& text) { return tokenizer.encode(text); };
  for (const auto& e : examples) {
    out.inputs.push_back(tasks::encode_segments(e.segments, encode, tokenizer.cls_id(),
                                                tokenizer.sep_id(), max_len));
    out.labels.push_back(e.has_label ? e.label : 0.0f);
  }
  return out;
}

Batch make_batch(const EncodedExamples& data, const std::vector<size_t>& rows,
                 const ModelConfig& config, const at::Device& device) {
  if (rows.empty()) fail("make_batch: no rows");
  int64_t longest = 1;
  for (const size_t r : rows)
    longest = std::max<int64_t>(longest, static_cast<int64_t>(data.inputs.at(r).input_ids.size()));
  const int64_t N = config.padded_length(longest);
  if (longest > N)
    fail("make_batch: an example has {} tokens but the model takes at most {}", longest, N);
  const auto B = static_cast<int64_t>(rows.size());
  std::vector<int64_t> ids(static_cast<size_t>(B * N), config.pad_id), types(ids.size(), 0);
  std::vector<float> labels;
  Batch batch;
  for (int64_t b = 0; b < B; ++b) {
    const auto& input = data.inputs[rows[static_cast<size_t>(b)]];
    std::copy(input.input_ids.begin(), input.input_ids.end(), ids.begin() + b * N);
    std::copy(input.type_ids.begin(), input.type_ids.end(), types.begin() + b * N);
    labels.push_back(data.labels[rows[static_cast<size_t>(b)]]);
    batch.real_tokens += static_cast<int64_t>(input.input_ids.size());
  }
  batch.input_ids = torch::tensor(ids, torch::kLong).reshape({B, N}).to(device);
  batch.type_ids = torch::tensor(types, torch::kLong).reshape({B, N}).to(device);
  batch.labels = torch::tensor(labels, torch::kFloat).to(device);
  return batch;
}

std::vector<std::vector<size_t>> training_batches(const std::vector<int64_t>& lengths,
                                                  int64_t epochs, int64_t batch, bool bucket,
                                                  uint64_t seed) {
  if (lengths.empty()) fail("training_batches: no examples");
  if (epochs < 1 || batch < 1) fail("training_batches: epochs and batch must be >= 1");
  std::mt19937_64 rng(seed);
  std::vector<size_t> order;
  for (int64_t e = 0; e < epochs; ++e) {
    std::vector<size_t> perm(lengths.size());
    std::iota(perm.begin(), perm.end(), size_t{0});
    std::shuffle(perm.begin(), perm.end(), rng);
    order.insert(order.end(), perm.begin(), perm.end());
  }
  const auto B = static_cast<size_t>(batch);
  const size_t steps = std::max<size_t>(1, order.size() / B);
  while (order.size() < steps * B) order.push_back(order[order.size() % lengths.size()]);
  order.resize(steps * B);
  std::vector<std::vector<size_t>> batches;
  for (size_t start = 0; start < order.size(); start += B * kBucketWindow) {
    const size_t end = std::min(order.size(), start + B * kBucketWindow);
    std::vector<size_t> window(order.begin() + static_cast<std::ptrdiff_t>(start),
                               order.begin() + static_cast<std::ptrdiff_t>(end));
    if (bucket) sort_by_length(window, lengths);
    std::vector<std::vector<size_t>> cut;
    for (size_t i = 0; i < window.size(); i += B)
      cut.emplace_back(window.begin() + static_cast<std::ptrdiff_t>(i),
                       window.begin() + static_cast<std::ptrdiff_t>(i + B));
    if (bucket) std::shuffle(cut.begin(), cut.end(), rng);
    for (auto& c : cut) batches.push_back(std::move(c));
  }
  return batches;
}

std::vector<std::vector<size_t>> inference_batches(const std::vector<int64_t>& lengths,
                                                   int64_t batch, bool bucket) {
  if (batch < 1) fail("inference_batches: batch must be >= 1");
  std::vector<size_t> order(lengths.size());
  std::iota(order.begin(), order.end(), size_t{0});
  if (bucket) sort_by_length(order, lengths);
  std::vector<std::vector<size_t>> batches;
  for (size_t i = 0; i < order.size(); i += static_cast<size_t>(batch))
    batches.emplace_back(order.begin() + static_cast<std::ptrdiff_t>(i),
                         order.begin() + static_cast<std::ptrdiff_t>(std::min(
                                             order.size(), i + static_cast<size_t>(batch))));
  return batches;
}

}  // namespace smx::finetune
