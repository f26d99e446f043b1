// Shared test helpers: tiny configs, max-difference reporting, temporary directories.
#pragma once

#include <string>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "smx/config/model_config.h"
#include "smx/core/error.h"

namespace smx::testing {

// A CPU-sized Sparse Mixer: 4 layers (attention in 3, MoE in 1-2), D = 32, 4 experts.
ModelConfig tiny_config(const std::string& arch = "linear", Padding padding = Padding::kMasked);

// max |a - b|, printed llm.c-style with a label so failures show how far off they were.
double max_abs_diff(const at::Tensor& a, const at::Tensor& b);
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

}  // namespace smx::testing
