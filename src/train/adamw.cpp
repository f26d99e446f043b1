#include "smx/train/adamw.h"

#include <cmath>

#include <torch/torch.h>

#include "smx/core/error.h"
#include "smx/core/shape.h"
#include "smx/model/compute_weights.h"
#include "smx/ops/adamw_step.h"

namespace smx::train {

AdamW::AdamW(const torch::nn::Module& module, AdamWOptions options) : options_(options) {
  for (const auto& p : module.named_parameters()) {
    names_.push_back(p.key());
    params_.push_back(p.value());
    m_.push_back(torch::zeros_like(p.value()));
    v_.push_back(torch::zeros_like(p.value()));
  }
}

void AdamW::step(double lr) {
  torch::NoGradGuard no_grad;
  ++steps_;
  ops::AdamWCoefficients c;
  c.lr = lr;
  c.beta1 = options_.beta1;
  c.beta2 = options_.beta2;
  c.eps = options_.eps;
  c.weight_decay = options_.weight_decay;
  c.correction1 = 1.0 - std::pow(c.beta1, static_cast<double>(steps_));
  c.correction2 = 1.0 - std::pow(c.beta2, static_cast<double>(steps_));
  for (size_t i = 0; i < params_.size(); ++i) {
    at::Tensor& p = params_[i];
    // A weight used in bf16 through its copy (model/compute_weights.h) has its gradient there.
    at::Tensor copy = model::weight_copy(p);
    const at::Tensor copy_grad = copy.defined() ? copy.grad() : at::Tensor();
    at::Tensor g = p.grad();
    if (!g.defined())
      g = copy_grad;
    else if (copy_grad.defined())
      g = g + copy_grad.to(g.scalar_type());
    if (!g.defined()) continue;
    // p -= lr · (m̂ / (√v̂ + ε) + wd · p), one fused pass per parameter on CPU (the bf16 copy too)
    ops::adamw_step(p, g, m_[i], v_[i], c, copy);
    if (copy.defined()) model::weight_copy_written(p);
  }
}

void AdamW::zero_grad() {
  // Dropped, not zeroed (PyTorch's set_to_none): no memset of every gradient per step, and a
  // parameter the next step does not reach keeps an undefined gradient, which step() skips.
  for (auto& p : params_) {
    p.mutable_grad() = at::Tensor();
    at::Tensor copy = model::weight_copy(p);
    if (copy.defined()) copy.mutable_grad() = at::Tensor();
  }
}

std::vector<io::NamedTensor> AdamW::state() const {
  std::vector<io::NamedTensor> out;
  out.push_back({"step", torch::tensor({steps_}, torch::kLong)});
  for (size_t i = 0; i < names_.size(); ++i) {
    out.push_back({"m." + names_[i], m_[i]});
    out.push_back({"v." + names_[i], v_[i]});
  }
  return out;
}

void AdamW::load_state(const std::vector<io::NamedTensor>& state, const std::string& source) {
  std::map<std::string, at::Tensor> by_name;
  for (const auto& t : state) by_name[t.name] = t.tensor;
  auto get = [&](const std::string& name, const at::Tensor& like) {
    const auto it = by_name.find(name);
    if (it == by_name.end())
      fail("optimizer state '{}' has no tensor '{}': it was saved for another model", source, name);
    if (like.defined() && it->second.sizes() != like.sizes())
      fail("optimizer state '{}': '{}' is {}, the model needs {}", source, name,
           shape_string(it->second.sizes()), shape_string(like.sizes()));
    return it->second;
  };
  const at::Tensor step = get("step", {});
  if (by_name.size() != 1 + 2 * names_.size())
    fail("optimizer state '{}' has {} tensors, this model needs {}", source, by_name.size(),
         1 + 2 * names_.size());
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < names_.size(); ++i) {
    m_[i].copy_(get("m." + names_[i], m_[i]));
    v_[i].copy_(get("v." + names_[i], v_[i]));
  }
  steps_ = step.item<int64_t>();
}

double clip_grad_norm(const torch::nn::Module& module, double max_norm) {
  torch::NoGradGuard no_grad;
  // Every gradient: the parameters' own and their bf16 copies' (model/compute_weights.h). A weight
  // used both ways (the tied word embeddings: lookup and MLM output) has two parts whose sum is its
  // gradient, so its norm is that of the sum.
  std::vector<at::Tensor> grads, squares;
  for (const auto& p : module.parameters()) {
    const at::Tensor copy = model::weight_copy(p);
    const at::Tensor own = p.grad(), copied = copy.defined() ? copy.grad() : at::Tensor();
    if (own.defined()) grads.push_back(own);
    if (copied.defined()) grads.push_back(copied);
    if (own.defined() && copied.defined())
      squares.push_back((own.to(torch::kFloat) + copied.to(torch::kFloat)).square().sum());
    else if (own.defined() || copied.defined())
      squares.push_back((own.defined() ? own : copied).to(torch::kFloat).square().sum());
  }
  if (squares.empty()) return 0.0;
  const double norm = torch::stack(squares).sum().sqrt().item<double>();
  if (max_norm > 0 && norm > max_norm) {
    const double scale = max_norm / (norm + 1e-6);
    for (const auto& g : grads) g.mul_(scale);
  }
  return norm;
}

}  // namespace smx::train
