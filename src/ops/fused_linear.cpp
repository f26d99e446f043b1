#include "smx/ops/fused_linear.h"

#include <map>
#include <memory>
#include <mutex>
#include <tuple>
#include <vector>

#include <ATen/record_function.h>
#include <torch/torch.h>

#include "simd.h"
#include "smx/core/torch_compat.h"
#include "smx/ops/fused_kernels.h"

#ifdef SMX_HAVE_ONEDNN
#include <oneapi/dnnl/dnnl.hpp>
#endif

namespace smx::ops {

#ifdef SMX_HAVE_ONEDNN
namespace {

using DataType = dnnl::memory::data_type;

// One matmul configuration: shapes, strides, dtypes.
struct Key {
  std::vector<int64_t> x_sizes, x_strides, w_strides;
  int64_t n = 0;
  bool bf16 = false;       // x, w and y bf16 (else all fp32)
  bool bf16_bias = false;  // the bias bf16 (else fp32)
  bool operator<(const Key& o) const {
    return std::tie(x_sizes, x_strides, w_strides, n, bf16, bf16_bias) <
           std::tie(o.x_sizes, o.x_strides, o.w_strides, o.n, o.bf16, o.bf16_bias);
  }
};

// A ready primitive, or `usable` false when oneDNN offers only its reference (scalar) kernel for
// the configuration on this CPU: then the unfused ATen ops are faster.
struct Entry {
  bool usable = false;
  dnnl::matmul matmul;
  dnnl::memory::desc x, w, bias, y, scratchpad;
};

const dnnl::engine& cpu_engine() {
  static const dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

dnnl::memory::dims dims_of(c10::IntArrayRef v) {
  return dnnl::memory::dims(v.begin(), v.end());
}

std::shared_ptr<const Entry> build(const Key& k) {
  auto e = std::make_shared<Entry>();
  const int64_t M = k.x_sizes[0], K = k.x_sizes[1], N = k.n;
  const DataType t = k.bf16 ? DataType::bf16 : DataType::f32;
  e->x = dnnl::memory::desc({M, K}, t, dims_of(k.x_strides));
  e->w = dnnl::memory::desc({K, N}, t, dims_of(k.w_strides));
  e->bias = dnnl::memory::desc({1, N}, k.bf16_bias ? DataType::bf16 : DataType::f32,
                               dnnl::memory::dims{N, 1});
  e->y = dnnl::memory::desc({M, N}, t, dnnl::memory::dims{N, 1});
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);  // per call: thread-safe execution
  try {
    const dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(e->x, e->w, e->bias, e->y), attr,
                                          cpu_engine());
    const std::string impl = pd.impl_info_str();
    if (impl.rfind("ref", 0) == 0) return e;  // reference kernel: leave it to ATen
    e->scratchpad = pd.scratchpad_desc();
    e->matmul = dnnl::matmul(pd);
    e->usable = true;
  } catch (const dnnl::error&) {
    // An unsupported configuration: the caller's unfused ops handle it.
  }
  return e;
}

// Primitives by configuration. Creating one takes about a millisecond (oneDNN generates its code
// for the shape), as ATen's own bf16 GEMMs pay through oneDNN's primitive cache; the table is
// emptied if it ever holds more than kMaxEntries (a server over many padded batch shapes).
std::shared_ptr<const Entry> primitive_for(const Key& key) {
  constexpr size_t kMaxEntries = 512;
  static std::mutex mutex;
  static std::map<Key, std::shared_ptr<const Entry>> table;
  std::lock_guard<std::mutex> lock(mutex);
  auto it = table.find(key);
  if (it != table.end()) return it->second;
  if (table.size() >= kMaxEntries) table.clear();
  return table.emplace(key, build(key)).first->second;
}

bool applies(const at::Tensor& x, const at::Tensor& w, const at::Tensor& bias) {
  if (!fused_kernels_enabled() || !simd::cpu_has_avx512()) return false;
  if (!x.defined() || !w.defined() || !bias.defined()) return false;
  if (!x.device().is_cpu() || !w.device().is_cpu() || !bias.device().is_cpu()) return false;
  // bf16 x and w with an fp32 or bf16 bias, or everything fp32; under CPU autocast (not excluded,
  // as it is around the router) only the dtype autocast would compute in.
  const at::ScalarType t = x.scalar_type();
  if ((t != at::kBFloat16 && t != at::kFloat) || w.scalar_type() != t) return false;
  if (compat::autocast_enabled(at::kCPU) && compat::autocast_dtype(at::kCPU) != t) return false;
  if (bias.scalar_type() != at::kFloat && bias.scalar_type() != t) return false;
  if (at::GradMode::is_enabled() &&
      (x.requires_grad() || w.requires_grad() || bias.requires_grad()))
    return false;
  if (x.dim() != 2 || w.dim() != 2 || bias.dim() != 1) return false;
  if (x.size(1) != w.size(0) || w.size(1) != bias.size(0)) return false;
  if (x.numel() == 0 || w.numel() == 0) return false;
  // Rows of x and of w must each have a unit-stride axis (oneDNN's plain layouts).
  return x.stride(-1) == 1 && (w.stride(-1) == 1 || w.stride(-2) == 1);
}

}  // namespace

at::Tensor fused_linear(const at::Tensor& x, const at::Tensor& w, const at::Tensor& bias) {
  if (!applies(x, w, bias)) return {};
  RECORD_FUNCTION("smx::fused_linear", std::vector<c10::IValue>({x, w}));
  const at::Tensor b = bias.contiguous();
  Key key;
  key.x_sizes = x.sizes().vec();
  key.x_strides = x.strides().vec();
  key.w_strides = w.strides().vec();
  key.n = w.size(1);
  key.bf16 = x.scalar_type() == at::kBFloat16;
  key.bf16_bias = b.scalar_type() == at::kBFloat16;
  const std::shared_ptr<const Entry> e = primitive_for(key);
  if (!e->usable) return {};

  at::Tensor y = at::empty({x.size(0), key.n}, x.options());
  at::Tensor scratch =
      at::empty({static_cast<int64_t>(e->scratchpad.get_size())}, x.options().dtype(at::kByte));
  const dnnl::engine& engine = cpu_engine();
  dnnl::stream stream(engine);
  e->matmul.execute(
      stream, {{DNNL_ARG_SRC, dnnl::memory(e->x, engine, x.data_ptr())},
               {DNNL_ARG_WEIGHTS, dnnl::memory(e->w, engine, w.data_ptr())},
               {DNNL_ARG_BIAS, dnnl::memory(e->bias, engine, b.data_ptr())},
               {DNNL_ARG_DST, dnnl::memory(e->y, engine, y.data_ptr())},
               {DNNL_ARG_SCRATCHPAD, dnnl::memory(e->scratchpad, engine, scratch.data_ptr())}});
  stream.wait();
  return y;
}

bool fused_linear_built() {
  return true;
}

#else  // no oneDNN in this build: callers always run their unfused ops

at::Tensor fused_linear(const at::Tensor&, const at::Tensor&, const at::Tensor&) {
  return {};
}

bool fused_linear_built() {
  return false;
}

#endif

}  // namespace smx::ops
