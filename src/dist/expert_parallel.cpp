#include "smx/dist/expert_parallel.h"

#include <numeric>

#include <torch/torch.h>

#include "smx/core/error.h"
#include "smx/model/model_weights.h"
#include "smx/model/moe_layer.h"

namespace smx::dist {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

int64_t total(const std::vector<int64_t>& v) {
  return std::accumulate(v.begin(), v.end(), int64_t{0});
}

// Forward: all-to-all with (in_rows -> out_rows); backward: the same with the roles swapped.
class AllToAllRows : public torch::autograd::Function<AllToAllRows> {
 public:
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& input, ProcessGroup* group,
                            std::vector<int64_t> in_rows, std::vector<int64_t> out_rows) {
    ctx->saved_data["group"] = reinterpret_cast<int64_t>(group);
    ctx->saved_data["in_rows"] = in_rows;
    ctx->saved_data["out_rows"] = out_rows;
    return exchange(*group, input, in_rows, out_rows, "expert all-to-all (forward)");
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad) {
    auto* group = reinterpret_cast<ProcessGroup*>(ctx->saved_data["group"].toInt());
    const auto in_rows = ctx->saved_data["in_rows"].toIntVector();
    const auto out_rows = ctx->saved_data["out_rows"].toIntVector();
    at::Tensor g = exchange(*group, grad[0], out_rows, in_rows, "expert all-to-all (backward)");
    return {g, at::Tensor(), at::Tensor(), at::Tensor()};
  }

  static at::Tensor exchange(ProcessGroup& group, const at::Tensor& input,
                             const std::vector<int64_t>& in_rows,
                             const std::vector<int64_t>& out_rows, const std::string& what) {
    std::vector<int64_t> shape = input.sizes().vec();
    shape[0] = total(out_rows);
    at::Tensor send = input.contiguous();
    at::Tensor recv = at::empty(shape, input.options());
    group.all_to_all(recv, send, out_rows, in_rows, what);
    return recv;
  }
};

const char* const kExpertTensors[] = {"intermediate_kernel", "intermediate_bias", "output_kernel",
                                      "output_bias"};

// Every MoE layer with its name prefix ("encoder.blocks.3.moe").
std::vector<std::pair<std::string, std::shared_ptr<model::MoeLayer>>> moe_layers(
    model::SparseMixer& model) {
  std::vector<std::pair<std::string, std::shared_ptr<model::MoeLayer>>> layers;
  for (const auto& item : model.named_modules()) {
    if (auto moe = std::dynamic_pointer_cast<model::MoeLayer>(item.value()))
      layers.emplace_back(item.key(), moe);
  }
  return layers;
}

// Runs one layer's experts across the group (see the header): buffer [E, M, D] -> [E, M, D].
at::Tensor run_distributed(ProcessGroup& group, int64_t held, model::MoeLayer& layer,
                           const at::Tensor& buffer) {
  const int64_t W = group.world_size(), E = buffer.size(0), M = buffer.size(1), D = buffer.size(2);
  // Every rank's slot count: with masked padding it depends on that rank's real tokens.
  at::Tensor m = torch::full({1}, M, torch::dtype(torch::kLong).device(group.device()));
  std::vector<int64_t> slots;  // [W] M_p
  for (const auto& t : group.all_gather(m, "expert slot counts"))
    slots.push_back(t.item<int64_t>());
  std::vector<int64_t> send_rows(W, held * M), recv_rows(W);
  for (int64_t p = 0; p < W; ++p) recv_rows[p] = held * slots[p];

  // [E·M, D] rows are expert-major, so rank q's experts are the q-th block of held·M rows.
  const at::Tensor arrived =
      all_to_all_rows(group, buffer.reshape({E * M, D}), send_rows, recv_rows);  // [held·ΣM_p, D]
  const std::vector<at::Tensor> blocks = arrived.split_with_sizes(recv_rows, 0);
  std::vector<at::Tensor> from_rank;  // [held, M_p, D]
  for (int64_t p = 0; p < W; ++p) from_rank.push_back(blocks[p].view({held, slots[p], D}));
  const at::Tensor work = at::cat(from_rank, 1);  // [held, ΣM_p, D]
  // Outputs travel in the buffer's dtype (fp32 under bf16 autocast: exact, and every backend has
  // it).
  const at::Tensor out = layer.run_experts(work);  // [held, ΣM_p, D]
  const at::Tensor done = out.to(buffer.scalar_type());
  std::vector<at::Tensor> back;
  for (const auto& block : done.split_with_sizes(slots, 1))
    back.push_back(block.reshape({block.size(0) * block.size(1), D}));
  const at::Tensor returned =
      all_to_all_rows(group, at::cat(back, 0), recv_rows, send_rows);  // [E·M, D]
  return returned.view({E, M, D}).to(out.scalar_type());
}

}  // namespace

at::Tensor all_to_all_rows(ProcessGroup& group, const at::Tensor& input,
                           std::vector<int64_t> in_rows, std::vector<int64_t> out_rows) {
  if (static_cast<int64_t>(in_rows.size()) != group.world_size() ||
      static_cast<int64_t>(out_rows.size()) != group.world_size() ||
      total(in_rows) != input.size(0))
    fail("all_to_all_rows: {} rows with splits for {} / {} ranks do not match a group of {}",
         input.size(0), in_rows.size(), out_rows.size(), group.world_size());
  return AllToAllRows::apply(input, &group, std::move(in_rows), std::move(out_rows));
}

ExpertParallel::ExpertParallel(std::shared_ptr<ProcessGroup> group, model::SparseMixer& model)
    : group_(std::move(group)) {
  const int64_t W = group_->world_size(), r = group_->rank();
  experts_ = model.config().num_experts;
  const auto layers = moe_layers(model);
  if (layers.empty())
    fail("--expert-parallel: model '{}' has no MoE layers; drop the flag", model.config().name);
  if (experts_ % W != 0)
    fail(
        "--expert-parallel: num_experts = {} is not divisible by the world size {}; run on a "
        "number of processes that divides {} or drop --expert-parallel",
        experts_, W, experts_);
  held_ = experts_ / W;
  torch::NoGradGuard no_grad;
  for (const auto& [prefix, layer] : layers) {
    for (const char* name : kExpertTensors) names_.insert(prefix + "." + name);
    for (at::Tensor* p : {&layer->intermediate_kernel, &layer->intermediate_bias,
                          &layer->output_kernel, &layer->output_bias})
      p->set_data(p->narrow(0, r * held_, held_).clone());
    const int64_t held = held_;
    layer->expert_runner = [g = group_, held](model::MoeLayer& l, const at::Tensor& buffer) {
      return run_distributed(*g, held, l, buffer);
    };
  }
}

void ExpertParallel::gather(std::vector<io::NamedTensor>& tensors,
                            const std::string& prefix) const {
  for (auto& t : tensors) {
    if (t.name.rfind(prefix, 0) != 0 || !is_expert(t.name.substr(prefix.size()))) continue;
    const at::Tensor local = t.tensor.to(group_->device()).contiguous();
    t.tensor = at::cat(group_->all_gather(local, "gathering expert tensor '" + t.name + "'"), 0)
                   .to(t.tensor.device());
  }
}

void ExpertParallel::localize(std::vector<io::NamedTensor>& tensors,
                              const std::string& prefix) const {
  for (auto& t : tensors) {
    if (t.name.rfind(prefix, 0) != 0 || !is_expert(t.name.substr(prefix.size()))) continue;
    if (t.tensor.dim() == 0 || t.tensor.size(0) != experts_)
      fail("expert tensor '{}' has {} rows, expected all {} experts", t.name,
           t.tensor.dim() == 0 ? 0 : t.tensor.size(0), experts_);
    t.tensor = t.tensor.narrow(0, group_->rank() * held_, held_).clone();
  }
}

void ExpertParallel::load_weights(model::SparseMixer& model, const std::string& path) const {
  torch::NoGradGuard no_grad;
  auto named = model.named_parameters();
  for (const auto& name : names_) {  // full-size placeholders, so that the usual checks apply
    at::Tensor& p = named[name];
    std::vector<int64_t> shape = p.sizes().vec();
    shape[0] = experts_;
    p.set_data(at::empty(shape, p.options()));
  }
  model::load_model_weights(model, path);
  for (const auto& name : names_) {
    at::Tensor& p = named[name];
    p.set_data(p.narrow(0, group_->rank() * held_, held_).clone());
  }
}

void ExpertParallel::unshard(model::SparseMixer& model) {
  torch::NoGradGuard no_grad;
  auto named = model.named_parameters();
  for (const auto& name : names_) {  // std::set: the same order on every rank
    at::Tensor& p = named[name];
    const at::Tensor local = p.to(group_->device()).contiguous();
    p.set_data(at::cat(group_->all_gather(local, "gathering expert tensor '" + name + "'"), 0)
                   .to(p.device()));
  }
  for (const auto& [prefix, layer] : moe_layers(model)) layer->expert_runner = nullptr;
  names_.clear();
}

}  // namespace smx::dist
