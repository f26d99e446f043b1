#include "smx/import/flax_msgpack.h"

#include <cstring>
#include <map>

// msgpack-cxx is header-only; without Boost it needs only the standard library. Defined here (not
// on the command line) so the precompiled header shared by every target keeps one set of flags.
#define MSGPACK_NO_BOOST
#include <msgpack.hpp>

#include <torch/torch.h>

#include "smx/core/error.h"

namespace smx::importer {
namespace {

// A Flax tree is a few levels of maps with at most a few hundred keys each; arrays appear only in
// an array payload's shape. The parser allocates a container's slots before reading them, so these
// caps bound what a hostile header can make it allocate (depth x count x slot size, ~50 MB).
constexpr uint32_t kMaxContainer = 16384;
constexpr uint32_t kMaxDepth = 64;
constexpr uint32_t kMaxString = 1u << 20;  // keys and dtype names
constexpr int kMaxRank = 32;
constexpr int64_t kMaxDim = int64_t{1} << 40;
constexpr int64_t kMaxElements = int64_t{1} << 42;
constexpr const char* kChunkedKey = "__msgpack_chunked_array__";

// Strings, bins and extensions point into the caller's buffer instead of being copied.
bool reference_everything(msgpack::type::object_type, std::size_t, void*) {
  return true;
}

msgpack::object_handle unpack_bounded(const char* data, size_t size,
                                      const msgpack::unpack_limit& limit,
                                      const std::string& where) {
  std::size_t offset = 0;
  msgpack::object_handle handle;
  try {
    handle = msgpack::unpack(data, size, offset, &reference_everything, nullptr, limit);
  } catch (const msgpack::insufficient_bytes&) {
    fail("{}: the msgpack data ends early (truncated file?); download it again", where);
  } catch (const std::bad_alloc&) {
    fail("{}: the msgpack data declares containers too large to hold; the file is corrupt", where);
  } catch (const std::exception& e) {
    fail("{}: not valid msgpack ({}); the file is corrupt or not a Flax checkpoint", where,
         e.what());
  }
  if (offset != size)
    fail("{}: {} bytes of trailing data after the msgpack value; the file is corrupt", where,
         size - offset);
  return handle;
}

std::string_view text_of(const msgpack::object& o) {
  if (o.type == msgpack::type::STR) return {o.via.str.ptr, o.via.str.size};
  if (o.type == msgpack::type::BIN) return {o.via.bin.ptr, o.via.bin.size};
  return {};
}

bool is_text(const msgpack::object& o) {
  return o.type == msgpack::type::STR || o.type == msgpack::type::BIN;
}

// A non-negative integer (shape entry), or -1.
int64_t non_negative(const msgpack::object& o) {
  if (o.type != msgpack::type::POSITIVE_INTEGER) return -1;
  return o.via.u64 > static_cast<uint64_t>(kMaxDim) ? -1 : static_cast<int64_t>(o.via.u64);
}

// "0".."limit-1" written without leading zeros, or -1.
int64_t index_key(std::string_view key, size_t limit) {
  if (key.empty() || key.size() > 9 || (key.size() > 1 && key[0] == '0')) return -1;
  int64_t v = 0;
  for (char c : key) {
    if (c < '0' || c > '9') return -1;
    v = v * 10 + (c - '0');
  }
  return static_cast<size_t>(v) < limit ? v : -1;
}

int64_t checked_numel(const std::vector<int64_t>& shape, const std::string& where) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (__builtin_mul_overflow(n, d, &n) || n > kMaxElements)
      fail("{}: array shape {} has too many elements; the file is corrupt", where,
           fmt::format("[{}]", fmt::join(shape, ", ")));
  }
  return n;
}

class TreeReader {
 public:
  TreeReader(FlaxCheckpoint& out) : out_(out) {}

  void visit(const msgpack::object& o, const std::string& path, uint32_t depth) {
    if (depth > kMaxDepth)
      fail("{}: tree deeper than {} levels at '{}'", out_.source, kMaxDepth, path);
    switch (o.type) {
      case msgpack::type::MAP:
        if (find_key(o, kChunkedKey) != nullptr) {
          add_array(path, chunked(o, path));
          return;
        }
        for (uint32_t i = 0; i < o.via.map.size; ++i) {
          const auto& kv = o.via.map.ptr[i];
          std::string key;
          if (is_text(kv.key))
            key = std::string(text_of(kv.key));
          else if (kv.key.type == msgpack::type::POSITIVE_INTEGER)
            key = std::to_string(kv.key.via.u64);
          else
            fail("{}: a map key under '{}' is not a string; not a Flax state dict", out_.source,
                 path.empty() ? "/" : path);
          visit(kv.val, path.empty() ? key : path + "/" + key, depth + 1);
        }
        return;
      case msgpack::type::ARRAY:  // lists are dicts in state dicts, but accept them by index
        for (uint32_t i = 0; i < o.via.array.size; ++i)
          visit(o.via.array.ptr[i],
                path.empty() ? std::to_string(i) : path + "/" + std::to_string(i), depth + 1);
        return;
      case msgpack::type::EXT: {
        const int8_t code = o.via.ext.type();
        if (code == 1 || code == 3) {
          add_array(path, array_payload(o, path));
        } else {
          FlaxLeaf leaf;
          leaf.path = path;
          leaf.kind = FlaxLeaf::Kind::kOther;
          leaf.text = fmt::format("msgpack extension {} ({} bytes)", code, o.via.ext.size);
          out_.leaves.push_back(std::move(leaf));
        }
        return;
      }
      default:
        break;
    }
    FlaxLeaf leaf;
    leaf.path = path;
    leaf.kind = FlaxLeaf::Kind::kNil;
    switch (o.type) {
      case msgpack::type::POSITIVE_INTEGER:
        leaf.kind = FlaxLeaf::Kind::kInteger;
        leaf.integer = o.via.u64 > static_cast<uint64_t>(INT64_MAX)
                           ? INT64_MAX
                           : static_cast<int64_t>(o.via.u64);
        break;
      case msgpack::type::NEGATIVE_INTEGER:
        leaf.kind = FlaxLeaf::Kind::kInteger;
        leaf.integer = o.via.i64;
        break;
      case msgpack::type::FLOAT32:
      case msgpack::type::FLOAT64:
        leaf.kind = FlaxLeaf::Kind::kFloat;
        leaf.real = o.via.f64;
        break;
      case msgpack::type::BOOLEAN:
        leaf.kind = FlaxLeaf::Kind::kBool;
        leaf.integer = o.via.boolean ? 1 : 0;
        break;
      case msgpack::type::STR:
        leaf.kind = FlaxLeaf::Kind::kString;
        leaf.text = std::string(text_of(o));
        break;
      case msgpack::type::BIN:
        leaf.kind = FlaxLeaf::Kind::kOther;
        leaf.text = fmt::format("{} raw bytes", o.via.bin.size);
        break;
      default:
        break;  // nil
    }
    out_.leaves.push_back(std::move(leaf));
  }

 private:
  static const msgpack::object* find_key(const msgpack::object& map, std::string_view key) {
    for (uint32_t i = 0; i < map.via.map.size; ++i)
      if (is_text(map.via.map.ptr[i].key) && text_of(map.via.map.ptr[i].key) == key)
        return &map.via.map.ptr[i].val;
    return nullptr;
  }

  // The leaf at `path` as an array; kOther when its dtype is one smx cannot read.
  void add_array(const std::string& path, FlaxArray array) {
    FlaxLeaf leaf;
    leaf.path = path;
    leaf.kind = FlaxLeaf::Kind::kArray;
    if (flax_dtype_size(array.dtype) == 0) {
      leaf.kind = FlaxLeaf::Kind::kOther;
      leaf.text = "array of dtype " + array.dtype;
    }
    leaf.array = std::move(array);
    out_.leaves.push_back(std::move(leaf));
  }

  // Extension 1 / 3 payload: msgpack [shape, dtype name, bytes].
  FlaxArray array_payload(const msgpack::object& ext, const std::string& path) {
    const std::string where = out_.source + " at '" + path + "'";
    const msgpack::unpack_limit limit(kMaxRank + 3, 0, kMaxString, ext.via.ext.size, 0, 3);
    const auto handle = unpack_bounded(ext.via.ext.data(), ext.via.ext.size, limit, where);
    const msgpack::object& t = handle.get();
    if (t.type != msgpack::type::ARRAY || t.via.array.size != 3 ||
        t.via.array.ptr[0].type != msgpack::type::ARRAY || !is_text(t.via.array.ptr[1]) ||
        !is_text(t.via.array.ptr[2]))
      fail("{}: array payload is not [shape, dtype, bytes]; not a Flax checkpoint array", where);
    FlaxArray a;
    const auto& shape = t.via.array.ptr[0].via.array;
    if (shape.size > static_cast<uint32_t>(kMaxRank))
      fail("{}: array rank {} is too large", where, shape.size);
    for (uint32_t i = 0; i < shape.size; ++i) {
      const int64_t d = non_negative(shape.ptr[i]);
      if (d < 0) fail("{}: array shape entry {} is not a size", where, i);
      a.shape.push_back(d);
    }
    a.dtype = std::string(text_of(t.via.array.ptr[1]));
    // Payload bytes live inside `ext`, which lives inside the file buffer.
    a.data = text_of(t.via.array.ptr[2]);
    const int64_t item = flax_dtype_size(a.dtype);
    const int64_t numel = checked_numel(a.shape, where);
    if (item > 0 && static_cast<uint64_t>(numel) * static_cast<uint64_t>(item) != a.data.size())
      fail("{}: array {} {} needs {} bytes but holds {}; the file is corrupt", where,
           fmt::format("[{}]", fmt::join(a.shape, ", ")), a.dtype, numel * item, a.data.size());
    return a;
  }

  // {"__msgpack_chunked_array__": true, "shape": {"0": d0, ...}, "chunks": {"0": flat, ...}}
  FlaxArray chunked(const msgpack::object& map, const std::string& path) {
    const std::string where = out_.source + " at '" + path + "' (chunked array)";
    const msgpack::object* shape = find_key(map, "shape");
    const msgpack::object* chunks = find_key(map, "chunks");
    if (shape == nullptr || chunks == nullptr || shape->type != msgpack::type::MAP ||
        chunks->type != msgpack::type::MAP)
      fail("{}: missing its 'shape' or 'chunks' map", where);
    FlaxArray a;
    a.chunked = true;
    a.shape.assign(shape->via.map.size, -1);
    if (a.shape.size() > static_cast<size_t>(kMaxRank))
      fail("{}: rank {} is too large", where, a.shape.size());
    for (uint32_t i = 0; i < shape->via.map.size; ++i) {
      const auto& kv = shape->via.map.ptr[i];
      const std::string key(text_of(kv.key));
      const int64_t axis = index_key(key, a.shape.size());
      if (axis < 0 || a.shape[axis] >= 0 || non_negative(kv.val) < 0)
        fail("{}: shape entry '{}' is not an axis 0..{} with a size", where, key,
             a.shape.size() - 1);
      a.shape[axis] = non_negative(kv.val);
    }
    const int64_t numel = checked_numel(a.shape, where);
    std::vector<FlaxArray> parts(chunks->via.map.size);
    std::vector<bool> seen(parts.size(), false);
    uint64_t total = 0;
    for (uint32_t i = 0; i < chunks->via.map.size; ++i) {
      const auto& kv = chunks->via.map.ptr[i];
      const std::string key(text_of(kv.key));
      const int64_t index = index_key(key, parts.size());
      if (index < 0 || seen[index] || kv.val.type != msgpack::type::EXT ||
          kv.val.via.ext.type() != 1)
        fail("{}: chunk '{}' is not an array numbered 0..{}", where, key, parts.size() - 1);
      seen[index] = true;
      parts[index] = array_payload(kv.val, path + "/chunks/" + key);
      if (parts[index].shape.size() != 1) fail("{}: chunk {} is not a flat array", where, key);
      total += parts[index].data.size();
    }
    if (parts.empty()) fail("{}: no chunks", where);
    for (const auto& part : parts)
      if (part.dtype != parts[0].dtype)
        fail("{}: chunks of different dtypes ({} and {})", where, parts[0].dtype, part.dtype);
    a.dtype = parts[0].dtype;
    const int64_t item = flax_dtype_size(a.dtype);
    if (item == 0) return a;  // reported as an unreadable leaf
    if (total != static_cast<uint64_t>(numel) * static_cast<uint64_t>(item))
      fail("{}: the chunks hold {} bytes but shape [{}] {} needs {}", where, total,
           fmt::join(a.shape, ", "), a.dtype, numel * item);
    auto owned = std::make_shared<std::string>();
    owned->reserve(total);  // bounded by bytes actually present in the file
    for (const auto& p : parts) owned->append(p.data.data(), p.data.size());
    a.owned = owned;
    a.data = *owned;
    return a;
  }

  FlaxCheckpoint& out_;
};

}  // namespace

int64_t FlaxArray::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

const FlaxLeaf* FlaxCheckpoint::find(const std::string& path) const {
  for (const auto& leaf : leaves)
    if (leaf.path == path) return &leaf;
  return nullptr;
}

int64_t flax_dtype_size(const std::string& dtype) {
  static const std::map<std::string, int64_t> sizes = {
      {"float32", 4}, {"float64", 8}, {"float16", 2},   {"bfloat16", 2},
      {"void16", 2},  {"int8", 1},    {"uint8", 1},     {"int16", 2},
      {"uint16", 2},  {"int32", 4},   {"uint32", 4},    {"int64", 8},
      {"uint64", 8},  {"bool", 1},    {"complex64", 8}, {"complex128", 16}};
  const auto it = sizes.find(dtype);
  return it == sizes.end() ? 0 : it->second;
}

FlaxCheckpoint parse_flax_checkpoint(std::shared_ptr<const std::string> bytes,
                                     const std::string& source) {
  FlaxCheckpoint out;
  out.source = source;
  out.bytes = std::move(bytes);
  if (out.bytes->empty()) fail("{}: empty file; download it again", source);
  const msgpack::unpack_limit limit(kMaxContainer, kMaxContainer, kMaxString, UINT32_MAX,
                                    UINT32_MAX, kMaxDepth);
  const auto handle = unpack_bounded(out.bytes->data(), out.bytes->size(), limit, source);
  if (handle.get().type != msgpack::type::MAP)
    fail("{}: the top level is not a map; not a Flax checkpoint", source);
  TreeReader(out).visit(handle.get(), "", 0);
  return out;
}

at::Tensor flax_array_to_float(const FlaxArray& a, const std::string& where) {
  at::ScalarType type;
  if (a.dtype == "float32")
    type = at::kFloat;
  else if (a.dtype == "float64")
    type = at::kDouble;
  else if (a.dtype == "float16")
    type = at::kHalf;
  else if (a.dtype == "bfloat16" || a.dtype == "void16")  // numpy without ml_dtypes: raw 2 bytes
    type = at::kBFloat16;
  else
    fail("{}: dtype {} is not a floating-point type smx can import", where, a.dtype);
  // Copied into an aligned tensor: array bytes sit at any offset inside the msgpack stream.
  at::Tensor t = torch::empty(a.shape, torch::TensorOptions().dtype(type));
  if (static_cast<size_t>(t.nbytes()) != a.data.size())
    fail("{}: {} bytes for {}; the file is corrupt", where, a.data.size(), describe(a));
  if (!a.data.empty()) std::memcpy(t.data_ptr(), a.data.data(), a.data.size());
  return t.to(at::kFloat).contiguous();
}

std::string describe(const FlaxArray& a) {
  return fmt::format("[{}] {}{}", fmt::join(a.shape, ", "), a.dtype, a.chunked ? " (chunked)" : "");
}

std::string shape_text(at::IntArrayRef shape) {
  return fmt::format("[{}]", fmt::join(shape, ", "));
}

}  // namespace smx::importer
