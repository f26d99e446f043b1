#include "support/test_util.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>

#include <torch/cuda.h>

namespace smx::testing {

at::Device test_device() {
  const char* env = std::getenv("SMX_TEST_DEVICE");
  const std::string text = env != nullptr && *env != '\0' ? env : "cpu";
  at::Device device(at::kCPU);
  try {
    device = at::Device(text);
  } catch (const std::exception&) {
    fail("SMX_TEST_DEVICE='{}' is not a device; use cpu, cuda or cuda:N", text);
  }
  if (device.is_cuda() && !torch::cuda::is_available())
    fail("SMX_TEST_DEVICE={}: this LibTorch has no CUDA or sees no GPU", text);
  return device;
}

ModelConfig tiny_config(const std::string& arch, Padding padding) {
  ModelConfig c;
  c.name = "tiny-" + arch;
  c.model_arch = arch;
  c.vocab_size = 97;
  c.max_seq_len = 16;
  c.d_emb = 24;
  c.d_model = 32;
  c.d_ff = 48;
  c.num_heads = 4;
  c.num_layers = 4;
  c.num_attention_layers = arch == "bert" ? 4 : 1;
  c.num_moe_layers = 2;
  c.num_experts = 4;
  c.expert_d_ff = 40;
  c.min_expert_capacity = 2;
  c.padding = padding;
  c.max_group_size = padding == Padding::kMasked ? 0 : 4096;
  c.validate();
  return c;
}

TinyBatch tiny_padded_batch(const ModelConfig& config) {
  TinyBatch b;
  b.ids = torch::randint(1, config.vocab_size, {3, 16}, torch::kLong);
  b.ids.narrow(1, 11, 5).select(0, 1).fill_(config.pad_id);  // a padded example
  b.types = torch::zeros_like(b.ids);
  b.positions = torch::randint(0, 11, {3, 4}, torch::kLong);
  return b;
}

const std::vector<std::string>& all_archs() {
  static const std::vector<std::string> archs = {"linear", "bert",  "f_net",
                                                 "h_net",  "c_net", "t_net"};
  return archs;
}

double max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size()) return 1e30;
  double d = 0;
  for (size_t i = 0; i < a.size(); ++i) d = std::max(d, std::abs(double(a[i]) - double(b[i])));
  return d;
}

at::Tensor tensor_from_json(const nlohmann::json& nested) {
  std::vector<double> flat;
  std::vector<int64_t> shape;
  std::function<void(const nlohmann::json&, size_t)> walk = [&](const nlohmann::json& v,
                                                                size_t depth) {
    if (v.is_array()) {
      if (shape.size() <= depth) shape.push_back(static_cast<int64_t>(v.size()));
      for (const auto& x : v) walk(x, depth + 1);
    } else {
      flat.push_back(v.get<double>());
    }
  };
  walk(nested, 0);
  return torch::tensor(flat, torch::kDouble).reshape(shape);
}

bool same_batch(const PretrainingBatch& a, const PretrainingBatch& b) {
  return a.batch_size == b.batch_size && a.seq_len == b.seq_len &&
         a.max_predictions == b.max_predictions && a.input_ids == b.input_ids &&
         a.type_ids == b.type_ids && a.masked_lm_positions == b.masked_lm_positions &&
         a.masked_lm_ids == b.masked_lm_ids && a.masked_lm_weights == b.masked_lm_weights &&
         a.nsp_labels == b.nsp_labels && a.real_tokens == b.real_tokens;
}

double max_abs_diff(const at::Tensor& a, const at::Tensor& b) {
  return (a.to(torch::kDouble) - b.to(torch::kDouble)).abs().max().item<double>();
}

void expect_close(const at::Tensor& actual, const at::Tensor& expected, double tolerance,
                  const std::string& label) {
  ASSERT_EQ(actual.sizes(), expected.sizes()) << label;
  const double diff = max_abs_diff(actual, expected);
  std::printf("    %-48s max |diff| = %.3e (tolerance %.0e)\n", label.c_str(), diff, tolerance);
  EXPECT_LE(diff, tolerance) << label;
}

}  // namespace smx::testing
