#include "smx/serve/inference.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include <torch/torch.h>

#include "smx/core/autocast.h"
#include "smx/core/error.h"
#include "smx/data/batch_padding.h"
#include "smx/model/serving_weights.h"

namespace smx::serve {
namespace {

std::vector<float> to_floats(const at::Tensor& t) {
  const at::Tensor c = t.to(torch::kCPU, torch::kFloat).contiguous();
  return std::vector<float>(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
}

}  // namespace

bool ExampleOutput::finite() const {
  return std::all_of(values.begin(), values.end(), [](float v) { return std::isfinite(v); });
}

Precision parse_precision(const std::string& text) {
  if (text == "fp32") return Precision::kFp32;
  if (text == "bf16") return Precision::kBf16;
  fail("unknown dtype '{}'; use fp32 or bf16", text);
}

std::string to_string(Precision precision) {
  return precision == Precision::kBf16 ? "bf16" : "fp32";
}

OutputKind output_kind(Pooling pooling) {
  switch (pooling) {
    case Pooling::kCls:
      return OutputKind::kCls;
    case Pooling::kMean:
      return OutputKind::kMean;
    case Pooling::kTokens:
      return OutputKind::kTokens;
    case Pooling::kLast:
      return OutputKind::kLast;
    case Pooling::kClsToken:
      return OutputKind::kClsToken;
    case Pooling::kMax:
      return OutputKind::kMax;
  }
  return OutputKind::kCls;
}

InferenceEngine::InferenceEngine(std::shared_ptr<const ModelBundle> bundle, Precision precision)
    : bundle_(std::move(bundle)), precision_(precision) {
  // bf16 serving holds the GEMM weights in bf16 once (model/serving_weights.h, identical outputs)
  // instead of autocast casting fp32 weights again on every call.
  model::SparseMixer& m = bundle_->model();
  if (precision_ == Precision::kBf16) {
    model::hold_gemm_weights_in(m, at::kBFloat16);
  } else {
    for (const auto& p : m.parameters())
      if (p.scalar_type() != at::kFloat)
        fail("this model's weights were converted for bf16 serving; run it with --dtype bf16");
  }
}

int64_t InferenceEngine::batch_cost(int64_t count, int64_t longest) const {
  return count * bundle_->config().padded_length(std::max<int64_t>(longest, 1));
}

std::vector<ExampleOutput> InferenceEngine::run(const std::vector<BatchRequest>& batch) const {
  if (batch.empty()) return {};
  const ModelConfig& config = bundle_->config();
  std::vector<std::vector<int64_t>> ids, types;
  int64_t longest = 0;
  for (const auto& r : batch) {
    const auto n = static_cast<int64_t>(r.input->input_ids.size());
    if (n < 1 || n > config.max_seq_len)
      fail("input has {} tokens; the model takes 1 to {}", n, config.max_seq_len);
    longest = std::max(longest, n);
    ids.push_back(r.input->input_ids);
    types.push_back(r.input->type_ids);
  }
  const int64_t N = config.padded_length(longest);
  auto& model = bundle_->model();
  const torch::Device device = model.parameters().front().device();
  const at::Tensor input_ids = data::pad_sequences(ids, N, config.pad_id).to(device);
  const at::Tensor type_ids = data::pad_sequences(types, N, 0).to(device);

  torch::NoGradGuard no_grad;
  model::SparseMixerOutput out;
  {
    AutocastScope autocast(precision_ == Precision::kBf16, device);
    out = model.forward(input_ids, type_ids);
  }
  const at::Tensor hidden = out.encoder.hidden.to(torch::kCPU, torch::kFloat);
  const at::Tensor pooled = out.encoder.pooled.to(torch::kCPU, torch::kFloat);
  const at::Tensor logits = out.classification_logits.to(torch::kCPU, torch::kFloat);

  std::vector<ExampleOutput> results(batch.size());
  for (size_t b = 0; b < batch.size(); ++b) {
    const auto n = static_cast<int64_t>(batch[b].input->input_ids.size());
    const auto i = static_cast<int64_t>(b);
    ExampleOutput& r = results[b];
    switch (batch[b].kind) {
      case OutputKind::kCls:
        r.values = to_floats(pooled[i]);
        break;
      case OutputKind::kMean:
        // Summed in double so the mean does not depend on the padded length.
        r.values = to_floats(hidden[i].narrow(0, 0, n).to(torch::kDouble).mean(0));
        break;
      case OutputKind::kTokens:
        r.values = to_floats(hidden[i].narrow(0, 0, n));
        r.rows = n;
        break;
      case OutputKind::kLogits:
        r.values = to_floats(logits[i]);
        break;
      case OutputKind::kLast:
        r.values = to_floats(hidden[i][n - 1]);
        break;
      case OutputKind::kClsToken:
        r.values = to_floats(hidden[i][0]);
        break;
      case OutputKind::kMax:
        r.values = to_floats(std::get<0>(hidden[i].narrow(0, 0, n).max(0)));
        break;
    }
    r.cols = static_cast<int64_t>(r.values.size()) / r.rows;
  }
  return results;
}

std::vector<std::vector<size_t>> plan_batches(const std::vector<int64_t>& lengths,
                                              const InferenceEngine& engine,
                                              int64_t max_batch_tokens, int64_t max_batch_size) {
  std::vector<size_t> order(lengths.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return lengths[a] < lengths[b]; });
  std::vector<std::vector<size_t>> batches;
  std::vector<size_t> current;
  for (const size_t i : order) {
    // Sorted ascending, so the newcomer is the batch's longest.
    const auto count = static_cast<int64_t>(current.size()) + 1;
    if (!current.empty() &&
        (count > max_batch_size || engine.batch_cost(count, lengths[i]) > max_batch_tokens)) {
      batches.push_back(std::move(current));
      current.clear();
    }
    current.push_back(i);
  }
  if (!current.empty()) batches.push_back(std::move(current));
  return batches;
}

}  // namespace smx::serve
