// Where a step's time goes: runs a body under LibTorch's CPU profiler and sums each ATen op's
// self time (its own time minus that of the ops it called), the breakdown `smx bench --profile`
// prints below the tables. Ops run on the calling thread; time spent inside their OpenMP
// regions counts as theirs.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace smx::bench {

struct OpTime {
  std::string name;    // "aten::addmm", or a region a module names with RECORD_FUNCTION
  int64_t calls = 0;   // times the op ran
  double self_ms = 0;  // its own time, children excluded
  double gflop = 0;    // matrix products: their FLOPs over all calls (1e9)
};

struct OpProfile {
  std::vector<OpTime> ops;     // by self time, largest first
  std::vector<OpTime> passes;  // element-wise passes' self time by asking op and pass (name)
  std::vector<OpTime> gemms;   // mm / addmm / bmm / baddbmm by operand shapes (name)
  double wall_ms = 0;          // the body, end to end (profiler overhead included)
  double op_ms = 0;            // sum of every op's self time (the rest is outside any op)
};

// Runs `body` once with the profiler on.
OpProfile profile_ops(const std::function<void()>& body);

// The `top` largest ops, one line each: self ms, share of the wall time, calls, name; then the
// matrix products by shape with their GFLOP/s, and the element-wise passes' largest callers.
std::string format_op_profile(const OpProfile& profile, size_t top, const std::string& indent);
nlohmann::json to_json(const OpProfile& profile);

}  // namespace smx::bench
