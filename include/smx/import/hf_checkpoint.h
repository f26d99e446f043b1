// The weights of a Hugging Face model folder, whichever way they are stored:
//   model.safetensors                                   one safetensors file
//   model.safetensors.index.json + model-0000k-of-n     sharded safetensors (weight_map)
//   pytorch_model.bin (+ .index.json for shards)        torch.save zip files, read by LibTorch's
//                                                       own loader (torch::pickle_load)
// in that order of preference. Tensors keep their stored dtype (fp32, fp16, bf16).
#pragma once

#include <map>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

namespace smx::importer::hf {

struct HfStoredTensor {
  at::Tensor tensor;  // as stored: CPU, its file's dtype and shape
  std::string file;   // the file it came from (for messages)
};

struct HfCheckpoint {
  std::string format;              // "safetensors", "sharded safetensors (3 files)", ...
  std::vector<std::string> files;  // every weights file read
  std::map<std::string, HfStoredTensor> tensors;
};

// Reads the weights of folder `dir`; fails naming the folder, file (and tensor) when there is no
// weights file, an index names a missing shard or a tensor its shard lacks, a name repeats, or a
// .bin file does not hold a name -> tensor dictionary.
HfCheckpoint read_hf_checkpoint(const std::string& dir);

}  // namespace smx::importer::hf
