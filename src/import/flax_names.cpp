#include "smx/import/flax_names.h"

#include <set>

#include <torch/torch.h>

#include "smx/core/error.h"
#include "smx/import/flax_msgpack.h"

namespace smx::importer {
namespace {

class Mapper {
 public:
  Mapper(const ReferenceParams& params, const ModelConfig& config) : p_(params), c_(config) {}

  // A replicated tensor that must have `shape`; `reshape_to` (if not empty) gives smx's shape.
  void dense(const std::string& flax, const std::string& smx, std::vector<int64_t> shape,
             std::vector<int64_t> reshape_to = {}, bool transpose = false) {
    const auto it = p_.dense.find(flax);
    if (it == p_.dense.end())
      fail(
          "{}: missing tensor '{}' {}; the model {} needs it (is the checkpoint complete and of "
          "this architecture?)",
          p_.file_of("encoder/embedder/word/embedding"), flax, shape_text(shape), summary());
    used_.insert(flax);
    check_shape(flax, it->second, shape);
    at::Tensor t = it->second;
    std::string how;
    if (!reshape_to.empty()) {
      t = t.reshape(reshape_to);
      how = "reshape";
    }
    if (transpose) {
      t = t.t().contiguous();
      how = "transpose";
    }
    out_.push_back({smx, flax, how, t});
  }

  // An expert parameter: per-shard [devices, ...] tensors stitched into `shape` = [E, ...].
  void expert(const std::string& flax, const std::string& smx, std::vector<int64_t> shape) {
    const auto it = p_.experts.find(flax);
    if (it == p_.experts.end())
      fail("{}: missing expert tensor '{}' in the shard files; the model {} needs it",
           p_.file_of("encoder/embedder/word/embedding"), flax, summary());
    used_.insert(flax);
    std::vector<at::Tensor> parts;
    // The reference keeps a device's experts on axis 1 of each parameter (after the device axis:
    // dim 2); a file with them on axis 0 is read too (the intermediate kernel tells which).
    const int64_t d = c_.d_model;
    for (const at::Tensor& part : it->second) {
      if (part.dim() != static_cast<int64_t>(shape.size()) + 1)
        fail("{}: expert tensor '{}' is {}; expected [devices, ...] with {} dims", p_.file_of(flax),
             flax, shape_text(part.sizes()), shape.size() + 1);
      const bool axis1 = expert_axis1(flax, part, d);
      const at::Tensor t = axis1 ? part.movedim(2, 1) : part;
      std::vector<int64_t> flat = {t.size(0) * t.size(1)};
      for (int64_t i = 2; i < t.dim(); ++i) flat.push_back(t.size(i));
      if (!parts.empty() && parts.front().sizes().slice(1) != at::IntArrayRef(flat).slice(1))
        fail(
            "{}: expert tensor '{}' has per-expert shape {} in one shard and {} in another; files "
            "from different models",
            p_.file_of(flax), flax, shape_text(parts.front().sizes().slice(1)),
            shape_text(at::IntArrayRef(flat).slice(1)));
      parts.push_back(t.reshape(flat));
    }
    at::Tensor full = torch::cat(parts, 0).contiguous();
    check_shape(flax + " (stitched from " + std::to_string(parts.size()) + " shards)", full, shape);
    out_.push_back({smx, flax,
                    fmt::format("stitch {} shards, experts on axis {}", parts.size(),
                                expert_axis1(flax, it->second.front(), d) ? 1 : 0),
                    full});
  }

  // Parameters left over are ones smx has no place for.
  void check_all_used() const {
    for (const auto& [path, t] : p_.dense)
      if (used_.count(path) == 0)
        fail(
            "{}: unknown parameter '{}' {}: the model {} has no such tensor; the checkpoint is "
            "of another architecture (pass --config, or run with --inspect to compare)",
            p_.file_of(path), path, shape_text(t.sizes()), summary());
    for (const auto& [path, parts] : p_.experts)
      if (used_.count(path) == 0)
        fail("{}: unknown expert parameter '{}': the model {} has no such tensor", p_.file_of(path),
             path, summary());
  }

  std::vector<MappedTensor> take() { return std::move(out_); }

 private:
  // Layer l's intermediate kernel per device is [D, e, F] (axis 1) or [e, D, F] (axis 0).
  bool expert_axis1(const std::string& flax, const at::Tensor& part, int64_t d) const {
    std::string kernel = flax.substr(0, flax.find('/', 8)) + "/intermediate/kernel";
    const auto it = p_.experts.find(kernel);
    const at::Tensor& k = it == p_.experts.end() ? part : it->second.front();
    return !(k.dim() == 4 && k.size(1) != d && k.size(2) == d);
  }

  void check_shape(const std::string& flax, const at::Tensor& t,
                   const std::vector<int64_t>& shape) {
    if (t.sizes().vec() != shape)
      fail(
          "{}: tensor '{}' is {} but the model {} needs {}; the checkpoint is damaged or of "
          "another configuration",
          p_.file_of(flax.substr(0, flax.find(' '))), flax, shape_text(t.sizes()), summary(),
          shape_text(shape));
  }

  std::string summary() const {
    return fmt::format("({} layers, vocab {}, d_emb {}, d_model {}, max_seq_len {})", c_.num_layers,
                       c_.vocab_size, c_.d_emb, c_.d_model, c_.max_seq_len);
  }

  const ReferenceParams& p_;
  const ModelConfig& c_;
  std::set<std::string> used_;
  std::vector<MappedTensor> out_;
};

}  // namespace

std::vector<MappedTensor> map_to_smx(const ReferenceParams& params, const ModelConfig& c) {
  Mapper m(params, c);
  const int64_t V = c.vocab_size, De = c.d_emb, D = c.d_model, N = c.max_seq_len;
  const std::string e = "encoder/embedder/", se = "encoder.embedder.";
  m.dense(e + "word/embedding", se + "word_embeddings", {V, De});
  m.dense(e + "position/embedding", se + "position_embeddings", {1, N, De}, {N, De});
  m.dense(e + "type/embedding", se + "type_embeddings", {c.type_vocab_size, De});
  m.dense(e + "layer_norm/scale", se + "layer_norm.scale", {De});
  m.dense(e + "layer_norm/bias", se + "layer_norm.bias", {De});
  m.dense(e + "hidden_mapping_in/kernel", se + "hidden_mapping_in.kernel", {De, D});
  m.dense(e + "hidden_mapping_in/bias", se + "hidden_mapping_in.bias", {D});
  for (int64_t l = 0; l < c.num_layers; ++l) {
    const std::string fl = "encoder/", ls = std::to_string(l);
    const std::string sl = "encoder.layers." + ls + ".";
    for (const char* norm : {"mixing_layer_norm", "output_layer_norm"})
      for (const char* leaf : {"scale", "bias"})
        m.dense(fl + "encoder_" + ls + "/" + norm + "/" + leaf, sl + norm + "." + leaf, {D});
    if (c.is_attention_layer(l)) {
      const int64_t H = c.num_heads, hd = D / c.num_heads;
      const std::string a = fl + "attention_" + ls + "/self/";
      for (const char* name : {"query", "key", "value"}) {
        m.dense(a + name + "/kernel", sl + "mixing." + name + ".kernel", {D, H, hd}, {D, D});
        m.dense(a + name + "/bias", sl + "mixing." + name + ".bias", {H, hd}, {D});
      }
      m.dense(a + "out/kernel", sl + "mixing.out.kernel", {H, hd, D}, {D, D});
      m.dense(a + "out/bias", sl + "mixing.out.bias", {D});
    } else {
      const std::string& arch = c.mixing().arch;
      if (arch == "linear") {
        const std::string t = fl + "linear_transform_" + ls + "/";
        m.dense(t + "input_kernel", sl + "mixing.input_kernel", {N, N});
        m.dense(t + "hidden_kernel", sl + "mixing.hidden_kernel", {D, D});
      } else if (arch == "c_net") {
        const std::string t = fl + "circulant_transform_" + ls + "/";
        m.dense(t + "input_kernel", sl + "mixing.sequence_kernel", {N});
        m.dense(t + "hidden_kernel", sl + "mixing.hidden_kernel", {D});
      } else if (arch == "t_net") {
        const std::string t = fl + "toeplitz_transform_" + ls + "/";
        m.dense(t + "input_kernel", sl + "mixing.sequence_kernel", {2 * N - 1});
        m.dense(t + "hidden_kernel", sl + "mixing.hidden_kernel", {2 * D - 1});
      }  // f_net / h_net: no parameters
    }
    if (c.is_moe_layer(l)) {
      const int64_t E = c.num_experts, F = c.expert_d_ff;
      const std::string r = fl + "router_weights_" + ls + "/DenseGeneral_0/";
      m.dense(r + "kernel", sl + "moe.router.kernel", {D, E});
      m.dense(r + "bias", sl + "moe.router.bias", {E});
      const std::string x = fl + "expert_" + ls + "/";
      m.expert(x + "intermediate/kernel", sl + "moe.intermediate_kernel", {E, D, F});
      m.expert(x + "intermediate/bias", sl + "moe.intermediate_bias", {E, F});
      m.expert(x + "output/kernel", sl + "moe.output_kernel", {E, F, D});
      m.expert(x + "output/bias", sl + "moe.output_bias", {E, D});
    } else {
      const std::string f = fl + "feed_forward_" + ls + "/";
      m.dense(f + "intermediate/kernel", sl + "feed_forward.intermediate.kernel", {D, c.d_ff});
      m.dense(f + "intermediate/bias", sl + "feed_forward.intermediate.bias", {c.d_ff});
      m.dense(f + "output/kernel", sl + "feed_forward.output.kernel", {c.d_ff, D});
      m.dense(f + "output/bias", sl + "feed_forward.output.bias", {D});
    }
  }
  m.dense("encoder/pooler/kernel", "encoder.pooler.kernel", {D, D});
  m.dense("encoder/pooler/bias", "encoder.pooler.bias", {D});
  m.dense("predictions_dense/kernel", "mlm.dense.kernel", {D, De});
  m.dense("predictions_dense/bias", "mlm.dense.bias", {De});
  m.dense("predictions_layer_norm/scale", "mlm.layer_norm.scale", {De});
  m.dense("predictions_layer_norm/bias", "mlm.layer_norm.bias", {De});
  m.dense("predictions_output/output_bias", "mlm.output_bias", {V});
  m.dense("classification/output_kernel", "classification.kernel", {2, D}, {}, true);
  m.dense("classification/output_bias", "classification.bias", {2});
  m.check_all_used();
  return m.take();
}

}  // namespace smx::importer
