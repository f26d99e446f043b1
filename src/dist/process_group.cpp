#include "smx/dist/process_group.h"

#include <cstdlib>
#include <mutex>

// LibTorch's CMake targets define USE_C10D_GLOO (and USE_C10D_NCCL in CUDA builds with NCCL).
#ifndef USE_C10D_GLOO
#error "this LibTorch was built without Gloo (USE_C10D_GLOO); smx's distributed training needs it"
#endif
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#ifdef USE_C10D_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif
#include <torch/cuda.h>
#include <torch/torch.h>

#include "smx/core/error.h"

namespace smx::dist {
namespace {

std::mutex g_mutex;
std::shared_ptr<ProcessGroup> g_default;

std::chrono::milliseconds to_ms(double seconds) {
  return std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000.0));
}

bool is_loopback(const std::string& host) {
  return host == "localhost" || host.rfind("127.", 0) == 0 || host == "::1";
}

// Gloo binds one address that its peers connect to: GLOO_SOCKET_IFNAME's interface when set (as in
// PyTorch), loopback when the rendezvous is on this host, else this host's resolved name.
std::shared_ptr<::gloo::transport::Device> gloo_device(const Environment& env) {
  if (const char* ifname = std::getenv("GLOO_SOCKET_IFNAME"); ifname != nullptr && *ifname != '\0')
    return ::c10d::ProcessGroupGloo::createDeviceForInterface(ifname);
  if (is_loopback(env.master_addr))
    return ::c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1");
  return ::c10d::ProcessGroupGloo::createDefaultDevice();
}

::c10d::ReduceOp to_c10d(ReduceOp op) {
  switch (op) {
    case ReduceOp::min:
      return ::c10d::ReduceOp::MIN;
    case ReduceOp::max:
      return ::c10d::ReduceOp::MAX;
    case ReduceOp::sum:
      break;
  }
  return ::c10d::ReduceOp::SUM;
}

}  // namespace

std::shared_ptr<ProcessGroup> ProcessGroup::create(const Environment& env,
                                                   const GroupOptions& options) {
  if (!(options.timeout_s > 0))
    fail("--dist-timeout must be > 0 seconds (got {})", options.timeout_s);
  std::shared_ptr<ProcessGroup> pg(new ProcessGroup());
  pg->env_ = env;
  pg->options_ = options;
  const std::string& backend = options.backend;
  bool nccl = false;
  if (backend == "nccl") {
#ifndef USE_C10D_NCCL
    fail(
        "--dist-backend nccl: this smx was built against a LibTorch without NCCL; use gloo or "
        "rebuild with a CUDA LibTorch (-DTorch_DIR=...)");
#endif
    nccl = true;
  } else if (backend == "auto") {
#ifdef USE_C10D_NCCL
    nccl = torch::cuda::is_available();
#endif
  } else if (backend != "gloo") {
    fail("--dist-backend must be auto, gloo or nccl (got '{}')", backend);
  }

  // Rendezvous: rank 0 serves the store, everyone (rank 0 included) connects as a client.
  ::c10d::TCPStoreOptions so;
  so.port = static_cast<std::uint16_t>(env.master_port);
  so.isServer = env.rank == 0;
  so.numWorkers = static_cast<std::size_t>(env.world_size);
  so.waitWorkers = true;
  so.timeout = to_ms(options.timeout_s);
  try {
    pg->store_ = c10::make_intrusive<::c10d::TCPStore>(env.master_addr, so);
  } catch (const std::exception& e) {
    fail(
        "{}: rendezvous at {}:{} failed within {} s: {}. Check that all {} processes were started, "
        "MASTER_ADDR/MASTER_PORT agree, and (rank 0) the port is free",
        env.describe(), env.master_addr, env.master_port, options.timeout_s, e.what(),
        env.world_size);
  }
  auto prefixed = c10::make_intrusive<::c10d::PrefixStore>("smx/pg", pg->store_);
  const int rank = static_cast<int>(env.rank), size = static_cast<int>(env.world_size);
  try {
    if (nccl) {
#ifdef USE_C10D_NCCL
      // Without async error handling NCCL collectives never time out; PyTorch sets the same.
#if SMX_TORCH_AT_LEAST(2, 2)
      setenv("TORCH_NCCL_ASYNC_ERROR_HANDLING", "1", 0);  // the old name is deprecated since 2.2
#else
      setenv("NCCL_ASYNC_ERROR_HANDLING", "1", 0);
#endif
      auto o = ::c10d::ProcessGroupNCCL::Options::create();
      o->timeout = to_ms(options.timeout_s);
      pg->group_ = c10::make_intrusive<::c10d::ProcessGroupNCCL>(prefixed, rank, size, o);
      pg->device_ = at::Device(at::kCUDA, static_cast<c10::DeviceIndex>(env.local_rank));
      pg->backend_name_ = "nccl";
#endif
    } else {
      auto o = ::c10d::ProcessGroupGloo::Options::create(to_ms(options.timeout_s));
      o->devices.push_back(gloo_device(env));
      o->threads = 2;
      pg->group_ = c10::make_intrusive<::c10d::ProcessGroupGloo>(prefixed, rank, size, o);
      pg->backend_name_ = "gloo";
    }
  } catch (const std::exception& e) {
    fail("{}: connecting the {} process group failed: {}", env.describe(), nccl ? "nccl" : "gloo",
         e.what());
  }
  return pg;
}

ProcessGroup::~ProcessGroup() = default;

void ProcessGroup::fail_collective(const std::string& what, const std::exception& e) const {
  std::string reason = e.what();
  if (const auto nl = reason.find('\n'); nl != std::string::npos) reason.resize(nl);
  fail(
      "rank {} of {}: {} failed: {}. Another rank has most likely exited or been killed (its own "
      "error is in its output); if every rank is alive but slow, raise --dist-timeout (now {} s)",
      env_.rank, env_.world_size, what, reason, options_.timeout_s);
}

void ProcessGroup::all_reduce(std::vector<at::Tensor>& tensors, ReduceOp op,
                              const std::string& what) {
  if (tensors.empty()) return;
  try {
    ::c10d::AllreduceOptions o;
    o.reduceOp = to_c10d(op);
    // One call per tensor: Gloo's multi-tensor allreduce means "one tensor per local device".
    std::vector<c10::intrusive_ptr<::c10d::Work>> works;
    for (auto& t : tensors) {
      std::vector<at::Tensor> one{t};
      works.push_back(group_->allreduce(one, o));
    }
    for (auto& w : works) w->wait();
  } catch (const std::exception& e) {
    fail_collective(what, e);
  }
}

void ProcessGroup::broadcast(std::vector<at::Tensor>& tensors, int64_t root,
                             const std::string& what) {
  try {
    ::c10d::BroadcastOptions o;
    o.rootRank = root;
    std::vector<c10::intrusive_ptr<::c10d::Work>> works;
    for (auto& t : tensors) {
      std::vector<at::Tensor> one{t};
      works.push_back(group_->broadcast(one, o));
    }
    for (auto& w : works) w->wait();
  } catch (const std::exception& e) {
    fail_collective(what, e);
  }
}

std::vector<at::Tensor> ProcessGroup::all_gather(const at::Tensor& input, const std::string& what) {
  std::vector<std::vector<at::Tensor>> outputs(1);
  for (int64_t r = 0; r < world_size(); ++r) outputs[0].push_back(at::empty_like(input));
  std::vector<at::Tensor> inputs{input.contiguous()};
  try {
    group_->allgather(outputs, inputs)->wait();
  } catch (const std::exception& e) {
    fail_collective(what, e);
  }
  return outputs[0];
}

void ProcessGroup::all_to_all(at::Tensor& output, at::Tensor& input,
                              std::vector<int64_t> out_counts, std::vector<int64_t> in_counts,
                              const std::string& what) {
  try {
    group_->alltoall_base(output, input, out_counts, in_counts)->wait();
  } catch (const std::exception& e) {
    fail_collective(what, e);
  }
}

void ProcessGroup::barrier(const std::string& what) {
  try {
    group_->barrier()->wait();
  } catch (const std::exception& e) {
    fail_collective(what, e);
  }
}

std::vector<std::string> ProcessGroup::gather_strings(const std::string& tag,
                                                      const std::string& value) {
  const std::string prefix = "smx/gather/" + tag + "/";
  std::vector<std::string> values;
  try {
    store_->set(prefix + std::to_string(rank()), std::vector<uint8_t>(value.begin(), value.end()));
    if (rank() == 0) {
      for (int64_t r = 0; r < world_size(); ++r) {
        const std::vector<uint8_t> bytes = store_->get(prefix + std::to_string(r));
        values.emplace_back(bytes.begin(), bytes.end());
        store_->deleteKey(prefix + std::to_string(r));
      }
    }
  } catch (const std::exception& e) {
    fail_collective("gathering '" + tag + "' through the rendezvous store", e);
  }
  return values;
}

std::shared_ptr<ProcessGroup> default_group() {
  std::lock_guard<std::mutex> lock(g_mutex);
  return g_default;
}

void set_default_group(std::shared_ptr<ProcessGroup> group) {
  std::lock_guard<std::mutex> lock(g_mutex);
  g_default = std::move(group);
}

std::shared_ptr<ProcessGroup> init_from_environment(const GroupOptions& options) {
  if (auto existing = default_group()) return existing;
  const Environment env = environment_from_variables();
  if (!env.distributed()) return nullptr;
  auto group = ProcessGroup::create(env, options);
  set_default_group(group);
  return group;
}

}  // namespace smx::dist
