// Shared test helpers: tiny configs, max-difference reporting, temporary directories.
#pragma once

#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include "smx/config/model_config.h"
#include "smx/core/error.h"
#include "smx/data/pretraining_options.h"

namespace smx::testing {

// A CPU-sized Sparse Mixer: 4 layers (attention in 3, MoE in 1-2), D = 32, 4 experts.
ModelConfig tiny_config(const std::string& arch = "linear", Padding padding = Padding::kMasked);
// Every architecture: attention-only BERT and each mixing kind.
const std::vector<std::string>& all_archs();

// A pre-training batch for a tiny model: 3 examples of 16 tokens (the second padded after 11),
// token types 0, 4 masked positions per example; drawn from the global generator.
struct TinyBatch {
  at::Tensor ids, types, positions;  // [3, 16], [3, 16], [3, 4]
};
TinyBatch tiny_padded_batch(const ModelConfig& config);

// Where device-aware tests run: $SMX_TEST_DEVICE ("cpu" when unset, "cuda", "cuda:1", ...;
// scripts/device_check sets cuda). A device this LibTorch cannot use fails the test that asks.
at::Device test_device();

// max |a - b|, printed llm.c-style with a label so failures show how far off they were.
double max_abs_diff(const at::Tensor& a, const at::Tensor& b);
// max |a - b| of two equally long vectors; 1e30 when their lengths differ.
double max_abs_diff(const std::vector<float>& a, const std::vector<float>& b);
void expect_close(const at::Tensor& actual, const at::Tensor& expected, double tolerance,
                  const std::string& label);

// Expects `body` to throw smx::Error whose message contains `needle`.
template <typename F>
void expect_error(F body, const std::string& needle) {
  try {
    body();
    ADD_FAILURE() << "expected an error containing '" << needle << "'";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos)
        << "error message: " << e.what() << "\nexpected to contain: " << needle;
  }
}

// Expects `body` to throw smx::Error whose message contains every one of `needles`.
template <typename F>
void expect_error_all(F body, const std::vector<std::string>& needles) {
  try {
    body();
    ADD_FAILURE() << "expected an error containing '" << needles.at(0) << "'";
  } catch (const Error& e) {
    for (const auto& needle : needles)
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos)
          << "error message: " << e.what() << "\nexpected to contain: " << needle;
  }
}

// The message of the smx::Error that `body` throws ("" and a test failure when it throws none).
template <typename F>
std::string error_of(F&& body) {
  try {
    body();
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected smx::Error";
  return "";
}

// A nested JSON array of numbers (a reference's output) as an fp64 tensor of its shape.
at::Tensor tensor_from_json(const nlohmann::json& nested);

// Field-by-field equality of two host-side pre-training batches.
bool same_batch(const PretrainingBatch& a, const PretrainingBatch& b);

}  // namespace smx::testing
