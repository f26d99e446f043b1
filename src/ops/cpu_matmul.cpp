#include "smx/ops/cpu_matmul.h"

#include <algorithm>
#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <tuple>
#include <unordered_map>
#include <vector>

#include <ATen/record_function.h>
#include <torch/torch.h>

#include "simd.h"
#include "smx/core/torch_compat.h"
#include "smx/ops/fused_kernels.h"
#include "thin_matmul.h"

#ifdef SMX_HAVE_ONEDNN
#include <oneapi/dnnl/dnnl.hpp>
#endif

namespace smx::ops {

#ifdef SMX_HAVE_ONEDNN
namespace {

using DataType = dnnl::memory::data_type;
using Dims = dnnl::memory::dims;

// One matmul configuration: shapes, strides, dtypes.
struct Key {
  std::vector<int64_t> x_sizes, x_strides, w_sizes, w_strides;
  bool bf16 = false;       // x, w and y bf16 (else all fp32)
  int bias = 0;            // 0 none, 1 fp32, 2 bf16
  bool bias_rows = false;  // a bias row per batch entry ([G, N]), else one row ([N])
  bool operator<(const Key& o) const {
    return std::tie(x_sizes, x_strides, w_sizes, w_strides, bf16, bias, bias_rows) <
           std::tie(o.x_sizes, o.x_strides, o.w_sizes, o.w_strides, o.bf16, o.bias, o.bias_rows);
  }
};

// The shape of x · w: broadcast leading axes, then [M, N].
std::vector<int64_t> result_sizes(const std::vector<int64_t>& x, const std::vector<int64_t>& w) {
  std::vector<int64_t> y(x.size());
  for (size_t i = 0; i + 2 < x.size(); ++i) y[i] = std::max(x[i], w[i]);
  y[x.size() - 2] = x[x.size() - 2];
  y.back() = w.back();
  return y;
}

Dims contiguous_strides(const std::vector<int64_t>& sizes) {
  Dims s(sizes.size());
  int64_t stride = 1;
  for (size_t i = sizes.size(); i-- > 0;) {
    s[i] = stride;
    stride *= sizes[i];
  }
  return s;
}

// A ready primitive, or `usable` false when oneDNN offers only its reference (scalar) kernel for
// the configuration on this CPU, or none: then ATen's op is the faster one.
struct Entry {
  bool usable = false;
  dnnl::matmul matmul;
  dnnl::memory::desc x, w, bias, y, scratchpad;
};

const dnnl::engine& cpu_engine() {
  static const dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

std::shared_ptr<const Entry> build(const Key& k) {
  auto e = std::make_shared<Entry>();
  const DataType t = k.bf16 ? DataType::bf16 : DataType::f32;
  const std::vector<int64_t> y_sizes = result_sizes(k.x_sizes, k.w_sizes);
  e->x = dnnl::memory::desc(Dims(k.x_sizes), t, Dims(k.x_strides));
  e->w = dnnl::memory::desc(Dims(k.w_sizes), t, Dims(k.w_strides));
  e->y = dnnl::memory::desc(Dims(y_sizes), t, contiguous_strides(y_sizes));
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);  // per call: thread-safe execution
  if (k.bias != 0) {  // [1, ..., 1, N], or [G, 1, N] for a row per batch entry
    std::vector<int64_t> b_sizes(y_sizes.size(), 1);
    b_sizes.back() = y_sizes.back();
    if (k.bias_rows) b_sizes.front() = y_sizes.front();
    e->bias = dnnl::memory::desc(Dims(b_sizes), k.bias == 2 ? DataType::bf16 : DataType::f32,
                                 contiguous_strides(b_sizes));
  }
  // oneDNN 2.6's fast kernels take a bias that varies along the batch only as a post-op add.
  dnnl::memory::desc bias_arg = e->bias;
  if (k.bias_rows) {
    dnnl::post_ops ops;
    ops.append_binary(dnnl::algorithm::binary_add, e->bias);
    attr.set_post_ops(ops);
    bias_arg = dnnl::memory::desc();
  }
  try {
    const dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(e->x, e->w, bias_arg, e->y), attr,
                                          cpu_engine());
    if (std::string(pd.impl_info_str()).rfind("ref", 0) == 0) return e;  // leave it to ATen
    e->scratchpad = pd.scratchpad_desc();
    e->matmul = dnnl::matmul(pd);
    e->usable = true;
  } catch (const dnnl::error&) {
    // A configuration oneDNN does not take: ATen's op handles it.
  }
  return e;
}

// Primitives by configuration. Creating one takes about a millisecond (oneDNN generates its code
// for the shape), as ATen's own bf16 products pay through oneDNN's primitive cache; the table is
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

constexpr int64_t kMaxFp32Columns = 2048;

// One of the last two axes has unit stride (row-major, or a transposed view).
bool plain_matrix(const at::Tensor& t) {
  return t.stride(-1) == 1 || t.stride(-2) == 1;
}

bool applies(const at::Tensor& x, const at::Tensor& w, const at::Tensor& bias) {
  if (!fused_kernels_enabled() || !simd::cpu_has_avx512()) return false;
  if (!x.defined() || !w.defined() || !x.device().is_cpu() || !w.device().is_cpu()) return false;
  // bf16 x and w with an fp32 or bf16 bias, or everything fp32; under CPU autocast (not excluded,
  // as it is around the router) only the dtype autocast would compute in.
  const at::ScalarType t = x.scalar_type();
  if ((t != at::kBFloat16 && t != at::kFloat) || w.scalar_type() != t) return false;
  if (compat::autocast_enabled(at::kCPU) && compat::autocast_dtype(at::kCPU) != t) return false;
  // oneDNN 2.6's fp32 kernel falls far behind the BLAS on some wide products (x [4096, 768] ·
  // w [768, 3072]: 116 ms against 66, bench/cpu_matmul_bench.cpp case 13); up to N = 2048 it was
  // as fast or faster on every shape measured.
  if (t == at::kFloat && w.size(-1) > kMaxFp32Columns) return false;
  // The bias: [N], or [G, N] for x [G, M, K] (a row per batch entry) in fp32. In bf16 that form
  // (a post-op add in oneDNN 2.6) is slower than ATen's baddbmm (bench/cpu_matmul_bench.cpp).
  if (bias.defined() && bias.dim() == 2 && t == at::kBFloat16) return false;
  if (bias.defined()) {
    const bool rows =
        bias.dim() == 2 && x.dim() == 3 && bias.size(0) == std::max(x.size(0), w.size(0));
    if (!bias.device().is_cpu() || (bias.dim() != 1 && !rows) || bias.size(-1) != w.size(-1) ||
        (bias.scalar_type() != at::kFloat && bias.scalar_type() != t))
      return false;
  }
  if (at::GradMode::is_enabled() &&
      (x.requires_grad() || w.requires_grad() || (bias.defined() && bias.requires_grad())))
    return false;
  const int64_t d = x.dim();
  if (d < 2 || d > 4 || w.dim() != d || x.size(-1) != w.size(-2)) return false;
  for (int64_t i = 0; i < d - 2; ++i)
    if (x.size(i) != w.size(i) && x.size(i) != 1 && w.size(i) != 1) return false;
  if (x.numel() == 0 || w.numel() == 0) return false;
  return plain_matrix(x) && plain_matrix(w);
}

// `out` checked against the result's shape and dtype, or a new result.
at::Tensor result_for(const at::Tensor& x, const std::vector<int64_t>& y_sizes,
                      const at::Tensor& out) {
  if (!out.defined()) return at::empty(y_sizes, x.options());
  TORCH_CHECK(out.sizes() == at::IntArrayRef(y_sizes) && out.is_contiguous() &&
                  out.scalar_type() == x.scalar_type() && out.device().is_cpu(),
              "cpu_matmul: out must be a contiguous ", x.scalar_type(), " CPU tensor of shape ",
              at::IntArrayRef(y_sizes), "; got ", out.scalar_type(), " ", out.sizes(),
              out.is_contiguous() ? "" : " (not contiguous)");
  return out;
}

std::atomic<bool> thin_products{true};

}  // namespace

at::Tensor cpu_matmul(const at::Tensor& x, const at::Tensor& w, const at::Tensor& bias,
                      const at::Tensor& out) {
  if (!applies(x, w, bias)) return {};
  const at::Tensor b = bias.defined() ? bias.contiguous() : bias;
  const std::vector<int64_t> y_sizes = result_sizes(x.sizes().vec(), w.sizes().vec());
  if (thin_products.load(std::memory_order_relaxed) && thin_matmul_applies(x, w)) {
    RECORD_FUNCTION("smx::thin_matmul", std::vector<c10::IValue>({x, w}));
    const at::Tensor y = result_for(x, y_sizes, out);
    thin_matmul(x, w, b, y);
    return y;
  }
  RECORD_FUNCTION("smx::cpu_matmul", std::vector<c10::IValue>({x, w}));
  Key key;
  key.x_sizes = x.sizes().vec();
  key.x_strides = x.strides().vec();
  key.w_sizes = w.sizes().vec();
  key.w_strides = w.strides().vec();
  key.bf16 = x.scalar_type() == at::kBFloat16;
  key.bias = !b.defined() ? 0 : b.scalar_type() == at::kBFloat16 ? 2 : 1;
  key.bias_rows = b.defined() && b.dim() == 2;
  const std::shared_ptr<const Entry> e = primitive_for(key);
  if (!e->usable) return {};
  const at::Tensor y = result_for(x, y_sizes, out);
  at::Tensor scratch =
      at::empty({static_cast<int64_t>(e->scratchpad.get_size())}, x.options().dtype(at::kByte));
  const dnnl::engine& engine = cpu_engine();
  std::unordered_map<int, dnnl::memory> args = {
      {DNNL_ARG_SRC, dnnl::memory(e->x, engine, x.data_ptr())},
      {DNNL_ARG_WEIGHTS, dnnl::memory(e->w, engine, w.data_ptr())},
      {DNNL_ARG_DST, dnnl::memory(e->y, engine, y.data_ptr())},
      {DNNL_ARG_SCRATCHPAD, dnnl::memory(e->scratchpad, engine, scratch.data_ptr())}};
  if (b.defined())
    args.emplace(key.bias_rows ? DNNL_ARG_ATTR_MULTIPLE_POST_OP(0) | DNNL_ARG_SRC_1 : DNNL_ARG_BIAS,
                 dnnl::memory(e->bias, engine, b.data_ptr()));
  thread_local dnnl::stream stream(engine);  // one per calling thread, made once
  e->matmul.execute(stream, args);
  stream.wait();
  return y;
}

bool cpu_matmul_built() {
  return true;
}

void set_thin_products(bool enabled) {
  thin_products.store(enabled, std::memory_order_relaxed);
}

#else  // no oneDNN in this build: callers always run their ATen ops

at::Tensor cpu_matmul(const at::Tensor&, const at::Tensor&, const at::Tensor&, const at::Tensor&) {
  return {};
}

bool cpu_matmul_built() {
  return false;
}

void set_thin_products(bool) {}

#endif

}  // namespace smx::ops
