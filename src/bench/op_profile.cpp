#include "smx/bench/op_profile.h"

#include <algorithm>
#include <chrono>
#include <map>

#include <fmt/format.h>
#include <torch/csrc/autograd/profiler_legacy.h>

namespace smx::bench {
namespace prof = torch::autograd::profiler;
namespace {

// Ops that only convert, copy or build a filled tensor: a pass is charged to the nearest enclosing
// range that is none of these nor a pass itself (the layer op, or the autograd node in backward,
// that asked for it).
bool is_wrapper(const std::string& name) {
  return name == "aten::to" || name == "aten::_to_copy" || name == "aten::copy_" ||
         name == "aten::contiguous" || name == "aten::clone" || name == "aten::type_as" ||
         name == "aten::_autocast_to_reduced_precision" || name == "aten::expand_as" ||
         name == "aten::zeros" || name == "aten::zeros_like" || name == "aten::ones" ||
         name == "aten::ones_like" || name == "aten::full" || name == "aten::full_like" ||
         name == "aten::new_zeros" || name == "aten::zero_" || name == "aten::fill_";
}

// Element-wise ATen passes over memory (copies, fills, adds, products, sums): each is charged to
// the op that asked for it, where the bandwidth-bound time outside the fused kernels comes from.
bool is_memory_pass(const std::string& name) {
  return name == "aten::copy_" || name == "aten::fill_" || name == "aten::zero_" ||
         name == "aten::add" || name == "aten::add_" || name == "aten::mul" ||
         name == "aten::mul_" || name == "aten::sum" || name == "aten::div" ||
         name == "aten::sub" || name == "aten::index_add_" || name == "aten::index_put_";
}

// A matrix product's operands' shapes (bias or accumulator skipped) and its FLOPs, or false for
// any other op: mm / addmm [M, K] x [K, N]; bmm / baddbmm [B, M, K] x [B, K, N]; smx::cpu_matmul
// and smx::thin_matmul [..., M, K] x [..., K, N] with batch axes that may broadcast
// (ops/cpu_matmul.h).
bool gemm_shape(const std::string& name, const std::vector<std::vector<int64_t>>& shapes,
                std::string* key, double* gflop) {
  const bool with_input = name == "aten::addmm" || name == "aten::baddbmm";
  if (name != "aten::mm" && name != "aten::bmm" && name != "smx::cpu_matmul" &&
      name != "smx::thin_matmul" && !with_input)
    return false;
  const size_t first = with_input ? 1 : 0;
  if (shapes.size() < first + 2) return false;
  const auto& a = shapes[first];
  const auto& b = shapes[first + 1];
  if (a.size() < 2 || a.size() != b.size()) return false;
  double flop = 2.0 * static_cast<double>(a[a.size() - 2]) * static_cast<double>(a.back()) *
                static_cast<double>(b.back());
  for (size_t i = 0; i + 2 < a.size(); ++i) flop *= static_cast<double>(std::max(a[i], b[i]));
  *key = name + " " + c10::str(c10::IntArrayRef(a)) + " x " + c10::str(c10::IntArrayRef(b));
  *gflop = flop / 1e9;
  return true;
}

std::vector<OpTime> sorted_by_time(std::map<std::string, OpTime>& by_name) {
  std::vector<OpTime> out;
  for (auto& [name, t] : by_name) out.push_back(std::move(t));
  std::sort(out.begin(), out.end(),
            [](const OpTime& a, const OpTime& b) { return a.self_ms > b.self_ms; });
  return out;
}

}  // namespace

OpProfile profile_ops(const std::function<void()>& body) {
  prof::enableProfilerLegacy(
      torch::profiler::impl::ProfilerConfig(torch::profiler::impl::ProfilerState::CPU,
                                            /*report_input_shapes=*/true));
  const auto start = std::chrono::steady_clock::now();
  try {
    body();
  } catch (...) {
    prof::disableProfilerLegacy();
    throw;
  }
  const auto stop = std::chrono::steady_clock::now();
  const prof::thread_event_lists lists = prof::disableProfilerLegacy();

  // Push/pop ranges nest per thread: a stack of open ranges, each with its children's time.
  struct Open {
    const prof::LegacyEvent* push;
    double child_us;
    bool redispatched;  // a child range has the same name (autocast's wrapper, then the kernel)
  };
  std::map<std::string, OpTime> by_name, passes_by_caller, gemms_by_shape;
  OpProfile out;
  for (const auto& events : lists) {
    std::vector<Open> stack;
    for (const auto& e : events) {
      if (e.kind() == prof::EventKind::PushRange) {
        stack.push_back({&e, 0.0, false});
      } else if (e.kind() == prof::EventKind::PopRange && !stack.empty()) {
        const Open open = stack.back();
        stack.pop_back();
        const double total_us = open.push->cpuElapsedUs(e);
        OpTime& t = by_name[open.push->name()];
        t.name = open.push->name();
        if (!open.redispatched) t.calls += 1;  // autocast's wrapper and its kernel: one call
        t.self_ms += std::max(0.0, total_us - open.child_us) / 1e3;
        if (!stack.empty()) {
          stack.back().child_us += total_us;
          if (std::string(stack.back().push->name()) == open.push->name())
            stack.back().redispatched = true;
        }
        std::string gemm;
        double gflop = 0;
        if (gemm_shape(open.push->name(), open.push->shapes(), &gemm, &gflop)) {
          OpTime& g = gemms_by_shape[gemm];
          g.name = gemm;
          g.self_ms += std::max(0.0, total_us - open.child_us) / 1e3;
          if (!open.redispatched) {  // one product: its calls and FLOPs counted once
            g.calls += 1;
            g.gflop += gflop;
          }
        }
        if (is_memory_pass(open.push->name())) {
          std::string caller = "(top level)";
          for (auto it = stack.rbegin(); it != stack.rend(); ++it)
            if (!is_wrapper(it->push->name()) && !is_memory_pass(it->push->name())) {
              caller = it->push->name();
              break;
            }
          // The pass and the shape of its first operand (copy_(self, src): the copied shape).
          caller += " <- " + std::string(open.push->name());
          const auto shapes = open.push->shapes();
          if (!shapes.empty()) caller += " " + c10::str(c10::IntArrayRef(shapes[0]));
          OpTime& c = passes_by_caller[caller];
          c.name = caller;
          if (!open.redispatched) c.calls += 1;  // a dispatcher range and its kernel's: one call
          c.self_ms += std::max(0.0, total_us - open.child_us) / 1e3;
        }
      }
    }
  }
  out.ops = sorted_by_time(by_name);
  for (const auto& t : out.ops) out.op_ms += t.self_ms;
  out.passes = sorted_by_time(passes_by_caller);
  out.gemms = sorted_by_time(gemms_by_shape);
  out.wall_ms = std::chrono::duration<double, std::milli>(stop - start).count();
  return out;
}

std::string format_op_profile(const OpProfile& p, size_t top, const std::string& indent) {
  std::string s =
      fmt::format("{}{:>10} {:>6} {:>7}  op (self time; wall {:.1f} ms, {:.1f} ms in ops)\n",
                  indent, "self ms", "share", "calls", p.wall_ms, p.op_ms);
  for (size_t i = 0; i < std::min(top, p.ops.size()); ++i) {
    const OpTime& t = p.ops[i];
    s += fmt::format("{}{:10.2f} {:5.1f}% {:7}  {}\n", indent, t.self_ms,
                     100.0 * t.self_ms / std::max(1e-9, p.wall_ms), t.calls, t.name);
  }
  if (!p.gemms.empty())
    s += fmt::format("{}matrix products by shape (GFLOP/s from the shapes):\n", indent);
  for (size_t i = 0; i < std::min<size_t>(10, p.gemms.size()); ++i) {
    const OpTime& t = p.gemms[i];
    s += fmt::format("{}{:10.2f} {:5.1f}% {:7}  {:6.0f} GFLOP/s  {}\n", indent, t.self_ms,
                     100.0 * t.self_ms / std::max(1e-9, p.wall_ms), t.calls,
                     t.gflop / std::max(1e-9, t.self_ms / 1e3), t.name);
  }
  if (p.passes.empty()) return s;
  s += fmt::format(
      "{}element-wise passes (copy_, fill_, add, mul, sum, ...) by the op that asked for them:\n",
      indent);
  for (size_t i = 0; i < std::min<size_t>(12, p.passes.size()); ++i) {
    const OpTime& t = p.passes[i];
    s += fmt::format("{}{:10.2f} {:5.1f}% {:7}  {}\n", indent, t.self_ms,
                     100.0 * t.self_ms / std::max(1e-9, p.wall_ms), t.calls, t.name);
  }
  return s;
}

nlohmann::json to_json(const OpProfile& p) {
  nlohmann::json ops = nlohmann::json::array();
  for (const auto& t : p.ops)
    ops.push_back({{"name", t.name}, {"calls", t.calls}, {"self_ms", t.self_ms}});
  nlohmann::json passes = nlohmann::json::array();
  for (const auto& t : p.passes)
    passes.push_back({{"caller", t.name}, {"calls", t.calls}, {"self_ms", t.self_ms}});
  nlohmann::json gemms = nlohmann::json::array();
  for (const auto& t : p.gemms)
    gemms.push_back(
        {{"shape", t.name}, {"calls", t.calls}, {"self_ms", t.self_ms}, {"gflop", t.gflop}});
  return {{"wall_ms", p.wall_ms},
          {"op_ms", p.op_ms},
          {"ops", ops},
          {"gemms_by_shape", gemms},
          {"passes_by_caller", passes}};
}

}  // namespace smx::bench
