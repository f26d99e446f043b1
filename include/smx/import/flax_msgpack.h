// Reader for Flax msgpack checkpoints (flax.serialization.msgpack_serialize, the format of
// flax.training.checkpoints): a msgpack tree of maps with string keys whose leaves are
//   * arrays: msgpack extension 1 holding msgpack [shape, dtype name, C-order bytes];
//   * numpy scalars: extension 3, same payload with shape [];
//   * chunked arrays (leaves over 2**30 bytes): a map {"__msgpack_chunked_array__": true,
//     "shape": {"0": d0, ...}, "chunks": {"0": flat array, ...}}, reassembled here;
//   * plain msgpack integers, floats, booleans, strings and nil.
// Every size in the file is checked against the bytes that hold it before anything is
// allocated; any malformed input is an smx::Error naming the file (and the tree path).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <ATen/core/Tensor.h>

namespace smx::importer {

// One array leaf. `data` points into the checkpoint's bytes (or into `owned` for a reassembled
// chunked array) and holds exactly numel * itemsize bytes.
struct FlaxArray {
  std::vector<int64_t> shape;
  std::string dtype;  // as written: "float32", "bfloat16", "void16" (bf16 saved as raw voids), ...
  std::string_view data;
  std::shared_ptr<const std::string> owned;
  bool chunked = false;  // was stored as a chunked array

  int64_t numel() const;
};

struct FlaxLeaf {
  enum class Kind { kArray, kInteger, kFloat, kBool, kString, kNil, kOther };
  std::string path;  // keys joined with '/', e.g. "params/encoder/pooler/kernel"
  Kind kind = Kind::kNil;
  FlaxArray array;  // kArray
  int64_t integer = 0;
  double real = 0.0;
  std::string text;  // kString; for kOther what it was
};

struct FlaxCheckpoint {
  std::string source;                        // the file, for messages
  std::shared_ptr<const std::string> bytes;  // keeps every FlaxArray::data alive
  std::vector<FlaxLeaf> leaves;              // depth-first, in file order

  const FlaxLeaf* find(const std::string& path) const;
};

// Parses a whole checkpoint file. `source` names it in errors (e.g. "sm_base.zip:replicated_...").
FlaxCheckpoint parse_flax_checkpoint(std::shared_ptr<const std::string> bytes,
                                     const std::string& source);

// Bytes per element of a dtype name, or 0 when smx cannot read it.
int64_t flax_dtype_size(const std::string& dtype);

// An fp32 CPU tensor [shape] copied from a floating-point array (float32, float64, float16,
// bfloat16 / void16); `where` (file and path) names it in errors for other dtypes.
at::Tensor flax_array_to_float(const FlaxArray& array, const std::string& where);

// "[2, 16, 2, 8] bfloat16" for listings.
std::string describe(const FlaxArray& array);
// "[2, 16, 2, 8]".
std::string shape_text(at::IntArrayRef shape);

}  // namespace smx::importer
