#include "smx/io/weights.h"

#include <vector>

#include <fmt/format.h>
#include <torch/torch.h>

#include "smx/core/error.h"
#include "smx/io/safetensors.h"

namespace smx::io {
namespace {

// Parameters then buffers, skipping undefined ones (e.g. a disabled bias).
std::vector<std::pair<std::string, at::Tensor>> module_tensors(const torch::nn::Module& module) {
  std::vector<std::pair<std::string, at::Tensor>> out;
  for (const auto& item : module.named_parameters())
    if (item.value().defined()) out.emplace_back(item.key(), item.value());
  for (const auto& item : module.named_buffers())
    if (item.value().defined()) out.emplace_back(item.key(), item.value());
  return out;
}

// "a, b, c" for the first few entries, then "... and N more", so a wholesale mismatch stays
// readable.
std::string first_few(const std::vector<std::string>& items) {
  constexpr size_t kShown = 6;
  if (items.size() <= kShown) return fmt::format("{}", fmt::join(items, ", "));
  return fmt::format("{}, ... and {} more", fmt::join(items.begin(), items.begin() + kShown, ", "),
                     items.size() - kShown);
}

std::string shape_str(at::IntArrayRef sizes) {
  return fmt::format("[{}]", fmt::join(sizes, ", "));
}

}  // namespace

void save_module_weights(const torch::nn::Module& module, const std::string& path,
                         const std::map<std::string, std::string>& metadata) {
  std::vector<NamedTensor> tensors;
  for (auto& [name, tensor] : module_tensors(module)) tensors.push_back({name, tensor});
  write_safetensors(path, tensors, metadata);
}

std::map<std::string, std::string> load_module_weights(torch::nn::Module& module,
                                                       const std::string& path,
                                                       const WeightLoadOptions& options) {
  return load_module_weights(module, read_safetensors(path), path, options);
}

std::map<std::string, std::string> load_module_weights(torch::nn::Module& module,
                                                       SafetensorsFile file,
                                                       const std::string& path,
                                                       const WeightLoadOptions& options) {
  std::map<std::string, at::Tensor> from_file;
  for (auto& nt : file.tensors) from_file.emplace(nt.name, nt.tensor);

  const auto targets = module_tensors(module);
  std::vector<std::string> missing, unexpected, wrong_shape, wrong_dtype;
  std::map<std::string, bool> in_model;
  for (const auto& [name, target] : targets) {
    in_model[name] = true;
    auto it = from_file.find(name);
    if (it == from_file.end()) {
      missing.push_back(fmt::format("{} (shape {})", name, shape_str(target.sizes())));
      continue;
    }
    const at::Tensor& source = it->second;
    if (source.sizes() != target.sizes())
      wrong_shape.push_back(fmt::format("{} is {} in the file, the model expects {}", name,
                                        shape_str(source.sizes()), shape_str(target.sizes())));
    if (source.scalar_type() != target.scalar_type())
      wrong_dtype.push_back(fmt::format("{} is {} in the file, the model expects {}", name,
                                        safetensors_dtype_name(source.scalar_type()),
                                        safetensors_dtype_name(target.scalar_type())));
  }
  for (const auto& [name, tensor] : from_file)
    if (in_model.count(name) == 0) unexpected.push_back(name);

  if (!missing.empty() || !unexpected.empty() || !wrong_shape.empty() || !wrong_dtype.empty()) {
    std::vector<std::string> parts;
    if (!missing.empty()) parts.push_back("missing: " + first_few(missing));
    if (!unexpected.empty()) parts.push_back("unexpected: " + first_few(unexpected));
    if (!wrong_shape.empty()) parts.push_back("wrong shape: " + first_few(wrong_shape));
    if (!wrong_dtype.empty()) parts.push_back("wrong dtype: " + first_few(wrong_dtype));
    fail(
        "weights file '{}' does not match the model: {} (was it saved from a model with a "
        "different configuration?)",
        path, fmt::join(parts, "; "));
  }
  if (!options.allow_nonfinite) {
    std::vector<std::string> nonfinite;
    for (const auto& [name, target] : targets) {
      const at::Tensor& t = from_file.at(name);
      if (at::isFloatingType(t.scalar_type()) && !at::isfinite(t).all().item<bool>())
        nonfinite.push_back(name);
    }
    if (!nonfinite.empty())
      fail(
          "weights file '{}' holds NaN or Inf values in {}: the run diverged or the file is "
          "corrupt. Load an earlier checkpoint, or pass --allow-nonfinite to load it anyway",
          path, first_few(nonfinite));
  }

  torch::NoGradGuard no_grad;
  for (const auto& [name, target] : targets) {
    // Copied, never adopted: a parameter that kept viewing the mapped file would die with SIGBUS
    // when someone rewrote the file in place (`cp new.safetensors model.safetensors`) under a
    // running server. The mapping is released once `file` goes.
    at::Tensor dst = target;  // shares storage with the module's tensor
    dst.copy_(from_file.at(name));
  }
  return std::move(file.metadata);
}

}  // namespace smx::io
