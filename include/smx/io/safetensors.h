// Reader and writer for the safetensors format (https://huggingface.co/docs/safetensors):
//   [u64 little-endian header length N][N bytes of UTF-8 JSON header][byte buffer]
// The header maps tensor name -> {"dtype", "shape", "data_offsets": [begin, end]} (offsets
// relative to the buffer start) plus an optional "__metadata__" string -> string map.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <ATen/core/Tensor.h>

namespace smx::io {

struct NamedTensor {
  std::string name;
  at::Tensor tensor;
};

struct SafetensorsFile {
  std::vector<NamedTensor> tensors;  // sorted by name
  std::map<std::string, std::string> metadata;
};

// Safetensors dtype string ("F32", "BF16", "I64", "BOOL", ...) for a scalar type, or the
// LibTorch name (e.g. "ComplexFloat") for types safetensors files here cannot hold.
std::string safetensors_dtype_name(at::ScalarType type);

// The whole file as bytes. Tensors are copied to contiguous CPU memory and laid out in name
// order; the header is space-padded so the buffer starts 8-byte aligned. Throws smx::Error on
// duplicate names, the reserved name "__metadata__", undefined tensors or unsupported dtypes.
std::string serialize_safetensors(const std::vector<NamedTensor>& tensors,
                                  const std::map<std::string, std::string>& metadata = {});

// Parses and fully validates a file's bytes; `source_name` (usually the path) appears in errors.
// Returned tensors are CPU tensors that own their memory and keep the file's dtype.
SafetensorsFile parse_safetensors(std::string_view bytes, const std::string& source_name);

// Atomic: writes `<path>.tmp.<pid>`, fsyncs it, renames it over `path` and fsyncs the directory.
// On failure the temporary file is removed and an existing `path` is left untouched.
void write_safetensors(const std::string& path, const std::vector<NamedTensor>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

// Maps the file (mmap) and parses it like parse_safetensors. Tensors whose data is aligned for
// their dtype view the mapping (private, copy-on-write: writing to them never changes the file) and
// keep it alive; copy them to keep them past the file's life. The file must not be truncated in
// place while they live (write_safetensors replaces files by rename, which is safe).
SafetensorsFile read_safetensors(const std::string& path);

}  // namespace smx::io
