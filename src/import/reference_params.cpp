#include "smx/import/reference_params.h"

#include <cstring>
#include <set>

#include "smx/core/error.h"
#include "smx/import/flax_msgpack.h"

namespace smx::importer {
namespace {

// The parameter root of a parsed state: "params", "target", or "" for a bare tree.
std::string find_root(const FlaxCheckpoint& ckpt, std::string& format) {
  bool params = false, target = false, bare = false;
  for (const auto& leaf : ckpt.leaves) {
    params |= leaf.path.rfind("params/", 0) == 0;
    target |= leaf.path.rfind("target/", 0) == 0;
    bare |= leaf.path.rfind("encoder/", 0) == 0;
  }
  if (params) {
    format = "optax TrainState (step, params, opt_state)";
    return "params";
  }
  if (target) {
    format = "flax.optim Optimizer (target, state)";
    return "target";
  }
  if (bare) {
    format = "parameter tree";
    return "";
  }
  fail(
      "{}: no 'params' or 'target' tree and no 'encoder' module at the top; not a checkpoint of "
      "the reference's pre-training models (run smx import with --inspect to list what it holds)",
      ckpt.source);
}

int64_t step_of(const FlaxCheckpoint& ckpt) {
  for (const char* path : {"step", "state/step"}) {
    const FlaxLeaf* leaf = ckpt.find(path);
    if (leaf == nullptr) continue;
    if (leaf->kind == FlaxLeaf::Kind::kInteger) return leaf->integer;
    if (leaf->kind == FlaxLeaf::Kind::kArray && leaf->array.shape.empty()) {
      const auto& a = leaf->array;
      if (a.dtype == "int32" && a.data.size() == 4) {
        int32_t v;
        std::memcpy(&v, a.data.data(), 4);
        return v;
      }
      if (a.dtype == "int64" && a.data.size() == 8) {
        int64_t v;
        std::memcpy(&v, a.data.data(), 8);
        return v;
      }
    }
  }
  return -1;
}

std::string relative(const std::string& path, const std::string& root) {
  if (root.empty()) return path;
  if (path.rfind(root + "/", 0) == 0) return path.substr(root.size() + 1);
  return {};
}

}  // namespace

bool is_expert_path(const std::string& path) {
  return path.find("expert") != std::string::npos;
}

std::string ReferenceParams::file_of(const std::string& path) const {
  const auto it = origin.find(path);
  return it == origin.end() ? "the checkpoint" : it->second;
}

ReferenceParams read_reference_params(const CheckpointFiles& files) {
  ReferenceParams out;
  std::set<std::string> expert_paths;
  {
    const CheckpointFile& rep = files.replicated();
    const FlaxCheckpoint ckpt = parse_flax_checkpoint(files.read(rep), rep.location);
    out.root = find_root(ckpt, out.format);
    out.stored_step = step_of(ckpt);
    for (const auto& leaf : ckpt.leaves) {
      const std::string rel = relative(leaf.path, out.root);
      if (rel.empty()) {
        ++out.ignored_leaves;
        continue;
      }
      const std::string where = rep.location + " at '" + leaf.path + "'";
      if (leaf.kind != FlaxLeaf::Kind::kArray)
        fail(
            "{}: a parameter that is not a float array ({}); the file is not a checkpoint smx "
            "can import",
            where, leaf.kind == FlaxLeaf::Kind::kOther ? leaf.text : "a plain value");
      out.origin[rel] = rep.location;
      out.stored[rel].push_back(describe(leaf.array));
      if (is_expert_path(rel)) {
        if (leaf.array.numel() != 0)
          fail(
              "{}: an expert parameter holds data in the replicated file; the reference saves "
              "experts only in shard-*-of-*_checkpoint_* files",
              where);
        expert_paths.insert(rel);
        continue;
      }
      out.dense[rel] = flax_array_to_float(leaf.array, where);
    }
  }  // the replicated file's bytes are released here
  if (out.dense.empty()) fail("{}: the parameter tree is empty", files.replicated().location);
  if (expert_paths.empty()) return out;  // no MoE layers (BERT): shards, if any, are not needed
  if (files.shards().empty())
    fail(
        "{}: the model has expert parameters (e.g. '{}') that the reference saves in "
        "shard-PPPPP-of-QQQQQ_checkpoint_{} files, and none are there; unpack the whole release",
        files.source(), *expert_paths.begin(), files.step());
  for (const auto& shard : files.shards()) {
    const FlaxCheckpoint ckpt = parse_flax_checkpoint(files.read(shard), shard.location);
    std::string format;
    const std::string root = find_root(ckpt, format);
    if (root != out.root)
      fail("{}: its state is a {} but the replicated file's is a {}; files from different runs",
           shard.location, format, out.format);
    std::set<std::string> seen;
    for (const auto& leaf : ckpt.leaves) {
      const std::string rel = relative(leaf.path, root);
      if (rel.empty() || !is_expert_path(rel)) continue;
      const std::string where = shard.location + " at '" + leaf.path + "'";
      if (expert_paths.count(rel) == 0)
        fail(
            "{}: unknown parameter: the replicated file has no '{}'; files from different "
            "models",
            where, rel);
      if (leaf.kind != FlaxLeaf::Kind::kArray || leaf.array.shape.size() < 2)
        fail("{}: an expert parameter must be an array [devices, ...], found {}", where,
             leaf.kind == FlaxLeaf::Kind::kArray ? describe(leaf.array) : "another value");
      seen.insert(rel);
      out.stored[rel].push_back(describe(leaf.array));
      out.origin[rel] = shard.location;
      out.experts[rel].push_back(flax_array_to_float(leaf.array, where));
    }
    for (const auto& path : expert_paths)
      if (seen.count(path) == 0)
        fail(
            "{}: missing tensor '{}' (every shard holds its experts of every MoE layer); the file "
            "is incomplete or from another model",
            shard.location, path);
  }
  return out;
}

}  // namespace smx::importer
