// A table-driven check of the fused kernels, in the manner of ggml's test-backend-ops: one row per
// op x dtype x kernel path (scalar / AVX-512 / with BF16 stores, kernel_paths.h) x pass (forward /
// backward) x output, each compared elementwise with an fp64 reference built from plain ATen ops.
// The table prints the largest |difference| of every row beside its tolerance, and every row is an
// EXPECT.
#pragma once

#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "ops/kernel_paths.h"
#include "smx/core/shape.h"
#include "support/test_util.h"

namespace smx::testing {

enum class Pass { kForward, kBackward };

// One output of a case: what the fused kernel produced and what the reference says.
struct OpOutput {
  std::string name;  // "y", "dx", "dbias", ...
  Pass pass;
  at::Tensor got, want;  // same shape, any dtypes (compared in fp64)
  double tolerance;      // on max |got - want|
};

// One input configuration of one op. `run` draws its inputs from the global generator (the table
// seeds it before every case, so each kernel path sees the same inputs) and returns its outputs.
struct OpCase {
  std::string op;  // the kernel, as src/ops/ names it
  at::ScalarType dtype;
  std::string shape;  // the inputs' shapes, for the printout
  std::function<std::vector<OpOutput>()> run;
};

inline const char* pass_name(Pass pass) {
  return pass == Pass::kForward ? "fwd" : "bwd";
}

// The fp64 leaf with the same values as `t`, for building references with autograd.
inline at::Tensor fp64_leaf(const at::Tensor& t) {
  return t.to(at::kDouble).detach().requires_grad_(true);
}

// Runs every case on every kernel path and checks every output. Returns the number of rows.
inline int run_op_table(const std::vector<OpCase>& cases, uint64_t seed = 0) {
  int rows = 0;
  std::printf("    %-16s %-9s %-8s %-4s %-8s %-22s %11s %9s\n", "op", "dtype", "path", "pass",
              "output", "shape", "max|diff|", "tolerance");
  for (const KernelPath& path : kernel_paths()) {
    UseKernelPath use(path);
    for (const OpCase& c : cases) {
      torch::manual_seed(seed);
      const std::vector<OpOutput> outputs = c.run();
      for (const OpOutput& o : outputs) {
        const std::string row = fmt::format("{} {} {} {} {} {}", c.op, c10::toString(c.dtype),
                                            path.name, pass_name(o.pass), o.name, c.shape);
        ++rows;
        if (!o.got.defined() || !o.want.defined()) {
          ADD_FAILURE() << row << ": output missing";
          continue;
        }
        EXPECT_EQ(o.got.sizes(), o.want.sizes()) << row;
        if (o.got.sizes() != o.want.sizes()) continue;
        const double diff =
            max_abs_diff(o.got.detach().to(at::kDouble), o.want.detach().to(at::kDouble));
        const bool ok = diff <= o.tolerance;
        std::printf("    %-16s %-9s %-8s %-4s %-8s %-22s %11.3e %9.0e%s\n", c.op.c_str(),
                    c10::toString(c.dtype), path.name.c_str(), pass_name(o.pass), o.name.c_str(),
                    c.shape.c_str(), diff, o.tolerance, ok ? "" : "  FAIL");
        EXPECT_LE(diff, o.tolerance) << row;
      }
    }
  }
  return rows;
}

}  // namespace smx::testing
