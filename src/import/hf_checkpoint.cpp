#include "smx/import/hf_checkpoint.h"

#include <filesystem>
#include <fstream>
#include <set>

#include <fmt/format.h>
#include <torch/serialize.h>
#include <torch/torch.h>

#include "smx/core/error.h"
#include "smx/core/json.h"
#include "smx/import/zip_archive.h"
#include "smx/io/safetensors.h"
#include "smx/io/text_file.h"

namespace smx::importer::hf {
namespace {

namespace fs = std::filesystem;

void add_hf_tensor(HfCheckpoint& ckpt, const std::string& name, at::Tensor tensor,
                   const std::string& file) {
  const auto it = ckpt.tensors.find(name);
  if (it != ckpt.tensors.end())
    fail("tensor '{}' is stored twice: in {} and in {}", name, it->second.file, file);
  ckpt.tensors[name] = {std::move(tensor), file};
}

void read_hf_safetensors_file(HfCheckpoint& ckpt, const std::string& path) {
  io::SafetensorsFile file = io::read_safetensors(path);
  // Copied: the tensors may view the file's mapping.
  for (auto& t : file.tensors) add_hf_tensor(ckpt, t.name, t.tensor.clone(), path);
  ckpt.files.push_back(path);
}

// Whether the torch.save zip's data.pkl starts with the pickle of an OrderedDict (protocol 2:
// PROTO 2, then GLOBAL "collections OrderedDict"), as transformers' save_pretrained writes it.
bool hf_pickle_is_ordered_dict(const std::string& path) {
  static const std::string kPrefix = std::string("\x80\x02", 2) + "ccollections\nOrderedDict\n";
  try {
    const ZipArchive zip(path);
    for (const auto& entry : zip.entries()) {
      const std::string& n = entry.name;
      if (n.size() >= 9 && n.compare(n.size() - 9, 9, "/data.pkl") == 0)
        return zip.read(entry, uint64_t{1} << 30).rfind(kPrefix, 0) == 0;
    }
  } catch (const Error&) {
  }
  return false;
}

// A torch.save zip file (pytorch_model.bin): LibTorch's unpickler turns it into a dictionary of
// name -> tensor (HF saves the state_dict, an OrderedDict).
void read_hf_torch_file(HfCheckpoint& ckpt, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("cannot open '{}'", path);
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (bytes.size() < 4 || bytes[0] != 'P' || bytes[1] != 'K')
    fail(
        "'{}' is not a torch.save zip file (legacy pre-1.6 pickles are not read); re-save it with "
        "a current PyTorch or convert the folder to safetensors",
        path);
  c10::IValue value;
  try {
    value = torch::pickle_load(bytes);
  } catch (const std::exception& e) {
    std::string what = e.what();
    what = what.substr(0, what.find('\n'));
    if (hf_pickle_is_ordered_dict(path))
      fail(
          "'{}' holds an OrderedDict state_dict (as transformers' save_pretrained writes it), "
          "which "
          "the torch.save loader of this LibTorch (1.13) cannot read (pytorch/pytorch#100741); run "
          "/usr/bin/python3 scripts/hf_bin_to_safetensors.py on the folder (it writes "
          "model.safetensors beside the .bin) and import again",
          path);
    fail("'{}' could not be read by LibTorch's torch.save loader: {}", path, what);
  }
  if (!value.isGenericDict())
    fail("'{}' holds a {}, not a state_dict (a dictionary of name -> tensor)", path,
         value.tagKind());
  for (const auto& item : value.toGenericDict()) {
    if (!item.key().isString())
      fail("'{}': a state_dict key is a {}, not a string", path, item.key().tagKind());
    const std::string name = item.key().toStringRef();
    if (!item.value().isTensor())
      fail("'{}': entry '{}' is a {}, not a tensor", path, name, item.value().tagKind());
    add_hf_tensor(ckpt, name, item.value().toTensor().contiguous(), path);
  }
  ckpt.files.push_back(path);
}

// index.json's weight_map: tensor -> shard file; every shard must exist beside it and hold the
// tensors the map gives it.
void read_hf_sharded(HfCheckpoint& ckpt, const fs::path& index, bool safetensors) {
  const std::string source = index.string();
  const auto j = parse_json(io::read_text_file(source), source);
  if (!j.is_object() || !j.contains("weight_map") || !j["weight_map"].is_object())
    fail("{}: no 'weight_map' object (tensor name -> shard file)", source);
  std::map<std::string, std::set<std::string>> by_shard;
  for (const auto& [name, shard] : j["weight_map"].items()) {
    if (!shard.is_string()) fail("{}: weight_map entry '{}' is not a file name", source, name);
    const std::string file = shard.get<std::string>();
    if (file.empty() || file.find('/') != std::string::npos || file == "." || file == "..")
      fail("{}: weight_map entry '{}' names '{}', not a file beside the index", source, name, file);
    by_shard[file].insert(name);
  }
  if (by_shard.empty()) fail("{}: the weight_map is empty", source);
  for (const auto& [file, names] : by_shard) {
    const fs::path path = index.parent_path() / file;
    std::error_code ec;
    if (!fs::is_regular_file(path, ec))
      fail("{}: shard '{}' (holding '{}' and {} more tensors) is missing", source, path.string(),
           *names.begin(), names.size() - 1);
  }
  for (const auto& [file, names] : by_shard) {
    const std::string path = (index.parent_path() / file).string();
    HfCheckpoint shard;
    if (safetensors)
      read_hf_safetensors_file(shard, path);
    else
      read_hf_torch_file(shard, path);
    for (const auto& name : names)
      if (shard.tensors.count(name) == 0)
        fail("{}: weight_map puts '{}' in '{}', which does not hold it", source, name, path);
    for (auto& [name, t] : shard.tensors) add_hf_tensor(ckpt, name, std::move(t.tensor), path);
    ckpt.files.push_back(path);
  }
  ckpt.format = fmt::format("sharded {} ({} files)", safetensors ? "safetensors" : "torch.save",
                            by_shard.size());
}

}  // namespace

HfCheckpoint read_hf_checkpoint(const std::string& dir) {
  const fs::path d(dir);
  std::error_code ec;
  if (!fs::is_directory(d, ec))
    fail(
        "'{}' is not a folder; smx import hf reads a Hugging Face model folder (config.json + "
        "model.safetensors or pytorch_model.bin)",
        dir);
  HfCheckpoint ckpt;
  if (fs::is_regular_file(d / "model.safetensors", ec)) {
    read_hf_safetensors_file(ckpt, (d / "model.safetensors").string());
    ckpt.format = "safetensors";
  } else if (fs::is_regular_file(d / "model.safetensors.index.json", ec)) {
    read_hf_sharded(ckpt, d / "model.safetensors.index.json", true);
  } else if (fs::is_regular_file(d / "pytorch_model.bin", ec)) {
    read_hf_torch_file(ckpt, (d / "pytorch_model.bin").string());
    ckpt.format = "torch.save (pytorch_model.bin)";
  } else if (fs::is_regular_file(d / "pytorch_model.bin.index.json", ec)) {
    read_hf_sharded(ckpt, d / "pytorch_model.bin.index.json", false);
  } else {
    fail(
        "'{}' has no weights file: expected model.safetensors, model.safetensors.index.json, "
        "pytorch_model.bin or pytorch_model.bin.index.json (TensorFlow and Flax weights are not "
        "read)",
        dir);
  }
  return ckpt;
}

}  // namespace smx::importer::hf
