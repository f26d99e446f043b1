#include "smx/io/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <limits>
#include <memory>
#include <optional>
#include <set>

#include <ATen/ATen.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "smx/core/error.h"

namespace smx::io {
namespace {

// Tensor bytes are copied verbatim: safetensors is little-endian, and so are the hosts we run on.
static_assert(sizeof(void*) == 8, "smx assumes a 64-bit little-endian host");

constexpr std::uint64_t kMaxHeaderBytes = 100ull << 20;  // same cap as the reference implementation
constexpr int kMaxJsonDepth = 8;  // a valid header nests 3 deep (root, entry, shape)
constexpr const char* kMetadataKey = "__metadata__";

struct DtypeInfo {
  const char* name;
  at::ScalarType type;
  std::int64_t itemsize;
};

constexpr DtypeInfo kDtypes[] = {
    {"F64", at::kDouble, 8},    {"F32", at::kFloat, 4}, {"F16", at::kHalf, 2},
    {"BF16", at::kBFloat16, 2}, {"I64", at::kLong, 8},  {"I32", at::kInt, 4},
    {"I16", at::kShort, 2},     {"I8", at::kChar, 1},   {"U8", at::kByte, 1},
    {"BOOL", at::kBool, 1},
};

const DtypeInfo* find_dtype(std::string_view name) {
  for (const auto& d : kDtypes)
    if (name == d.name) return &d;
  return nullptr;
}

const DtypeInfo* find_dtype(at::ScalarType type) {
  for (const auto& d : kDtypes)
    if (type == d.type) return &d;
  return nullptr;
}

std::string errno_text(int err) {
  return std::strerror(err);
}

// --- parsing -------------------------------------------------------------------------------

struct TooDeep {};

struct Entry {
  std::string name;
  const DtypeInfo* dtype;
  std::vector<std::int64_t> shape;
  std::uint64_t begin, end;  // relative to the buffer start
};

// Validates one header entry; `where` is "safetensors file 'x': tensor 'y'".
Entry parse_entry(const std::string& name, const nlohmann::json& value, std::uint64_t buffer_size,
                  const std::string& where) {
  if (!value.is_object())
    fail("{}: header entry is a JSON {}, expected an object with dtype, shape and data_offsets",
         where, value.type_name());
  Entry e;
  e.name = name;

  auto dtype_it = value.find("dtype");
  if (dtype_it == value.end() || !dtype_it->is_string())
    fail("{}: missing or non-string \"dtype\"", where);
  const auto& dtype_name = dtype_it->get_ref<const std::string&>();
  e.dtype = find_dtype(dtype_name);
  if (e.dtype == nullptr)
    fail(
        "{}: unsupported dtype \"{}\" (supported: F64, F32, F16, BF16, I64, I32, I16, I8, U8, "
        "BOOL)",
        where, dtype_name);

  auto shape_it = value.find("shape");
  if (shape_it == value.end() || !shape_it->is_array())
    fail("{}: missing \"shape\" or it is not a list", where);
  // Product of max(dim, 1): bounds LibTorch's contiguous strides, not just the element count.
  constexpr auto kMax = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
  std::uint64_t numel = 1, stride_bound = static_cast<std::uint64_t>(e.dtype->itemsize);
  for (std::size_t i = 0; i < shape_it->size(); ++i) {
    const auto& dim = (*shape_it)[i];
    if (!dim.is_number_unsigned())
      fail("{}: shape[{}] is {}, expected a non-negative integer", where, i, dim.dump());
    const auto d = dim.get<std::uint64_t>();
    const std::uint64_t d1 = std::max<std::uint64_t>(d, 1);
    if (d > kMax || stride_bound > kMax / d1)
      fail("{}: shape {} has too many elements (overflows 64-bit byte counts)", where,
           shape_it->dump());
    stride_bound *= d1;
    numel *= d;  // <= stride_bound, so no overflow
    e.shape.push_back(static_cast<std::int64_t>(d));
  }

  auto off_it = value.find("data_offsets");
  if (off_it == value.end() || !off_it->is_array() || off_it->size() != 2 ||
      !(*off_it)[0].is_number_unsigned() || !(*off_it)[1].is_number_unsigned())
    fail("{}: \"data_offsets\" must be a list of two non-negative integers [begin, end], got {}",
         where, off_it == value.end() ? std::string("nothing") : off_it->dump());
  e.begin = (*off_it)[0].get<std::uint64_t>();
  e.end = (*off_it)[1].get<std::uint64_t>();
  if (e.begin > e.end || e.end > buffer_size)
    fail(
        "{}: data_offsets [{}, {}] are not a range inside the {}-byte data buffer "
        "(the file is truncated or the header is corrupt)",
        where, e.begin, e.end, buffer_size);
  const std::uint64_t nbytes = numel * static_cast<std::uint64_t>(e.dtype->itemsize);
  if (e.end - e.begin != nbytes)
    fail("{}: data_offsets [{}, {}] span {} bytes, but dtype {} with shape {} needs {} bytes",
         where, e.begin, e.end, e.end - e.begin, e.dtype->name, shape_it->dump(), nbytes);
  return e;
}

}  // namespace

std::string safetensors_dtype_name(at::ScalarType type) {
  const DtypeInfo* d = find_dtype(type);
  return d != nullptr ? d->name : c10::toString(type);
}

namespace {

// Parses and validates `bytes`. Without `mapping` every tensor is copied into its own memory; with
// it, a tensor whose data is aligned for its dtype views `bytes` and holds `mapping` alive.
SafetensorsFile parse_bytes(std::string_view bytes, const std::string& source_name,
                            const std::shared_ptr<void>& mapping) {
  const std::string file = fmt::format("safetensors file '{}'", source_name);
  if (bytes.size() < 8)
    fail(
        "{}: only {} bytes long, shorter than the 8-byte header length (truncated or not a "
        "safetensors file)",
        file, bytes.size());
  std::uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i)
    header_len = (header_len << 8) | static_cast<unsigned char>(bytes[static_cast<std::size_t>(i)]);
  if (header_len > kMaxHeaderBytes)
    fail(
        "{}: header length {} (bytes 0-7) exceeds the 100 MiB limit (corrupt or not a "
        "safetensors file)",
        file, header_len);
  if (header_len > bytes.size() - 8)
    fail("{}: header length {} (bytes 0-7) runs past the end of the {}-byte file (truncated)", file,
         header_len, bytes.size());
  const std::string_view header_text = bytes.substr(8, header_len);
  const std::uint64_t buffer_start = 8 + header_len;
  const std::uint64_t buffer_size = bytes.size() - buffer_start;

  nlohmann::json header;
  try {
    header = nlohmann::json::parse(header_text.begin(), header_text.end(),
                                   [](int depth, nlohmann::json::parse_event_t, nlohmann::json&) {
                                     if (depth > kMaxJsonDepth) throw TooDeep{};
                                     return true;
                                   });
  } catch (const TooDeep&) {
    fail("{}: JSON header (bytes 8-{}) nests deeper than {} levels; not a safetensors header", file,
         buffer_start, kMaxJsonDepth);
  } catch (const nlohmann::json::exception& e) {
    fail("{}: header (bytes 8-{}) is not valid JSON: {}", file, buffer_start, e.what());
  }
  if (!header.is_object())
    fail("{}: header is a JSON {}, expected an object mapping tensor names to entries", file,
         header.type_name());

  SafetensorsFile result;
  std::vector<Entry> entries;
  for (const auto& [key, value] : header.items()) {
    if (key == kMetadataKey) {
      if (!value.is_object())
        fail("{}: \"__metadata__\" is a JSON {}, expected an object of strings", file,
             value.type_name());
      for (const auto& [mkey, mvalue] : value.items()) {
        if (!mvalue.is_string())
          fail("{}: metadata value for key '{}' is {}, expected a string", file, mkey,
               mvalue.dump());
        result.metadata.emplace(mkey, mvalue.get<std::string>());
      }
      continue;
    }
    entries.push_back(
        parse_entry(key, value, buffer_size, fmt::format("{}: tensor '{}'", file, key)));
  }

  // The spec requires tensors to tile the buffer exactly: no overlaps and no holes.
  std::vector<const Entry*> by_offset;
  for (const auto& e : entries) by_offset.push_back(&e);
  std::sort(by_offset.begin(), by_offset.end(), [](const Entry* a, const Entry* b) {
    return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
  });
  std::uint64_t covered = 0;
  const Entry* prev = nullptr;
  for (const Entry* e : by_offset) {
    if (e->begin < covered)
      fail("{}: tensor '{}' (data_offsets [{}, {}]) overlaps tensor '{}' (ends at {})", file,
           e->name, e->begin, e->end, prev->name, covered);
    if (e->begin > covered)
      fail("{}: buffer bytes [{}, {}) (file offsets {}-{}) before tensor '{}' belong to no tensor",
           file, covered, e->begin, buffer_start + covered, buffer_start + e->begin, e->name);
    covered = e->end;
    prev = e;
  }
  if (covered != buffer_size)
    fail(
        "{}: buffer bytes [{}, {}) (file offsets {}-{}) at the end belong to no tensor "
        "(trailing garbage or a corrupt header)",
        file, covered, buffer_size, buffer_start + covered, bytes.size());

  for (const auto& e : entries) {
    const char* data = bytes.data() + buffer_start + e.begin;
    const std::size_t nbytes = e.end - e.begin;
    if (e.dtype->type == at::kBool) {
      // Any other byte value is undefined behaviour for a C++ bool.
      for (std::size_t i = 0; i < nbytes; ++i)
        if (static_cast<unsigned char>(data[i]) > 1)
          fail("{}: tensor '{}' is BOOL but holds byte value {} at file offset {}; expected 0 or 1",
               file, e.name, static_cast<unsigned char>(data[i]), buffer_start + e.begin + i);
    }
    const auto options = at::TensorOptions().dtype(e.dtype->type);
    at::Tensor t;
    if (mapping != nullptr && nbytes > 0 &&
        reinterpret_cast<std::uintptr_t>(data) % static_cast<std::uintptr_t>(e.dtype->itemsize) ==
            0) {
      // The mapping is private and writable (copy-on-write), so in-place updates of the tensor
      // are safe and never reach the file.
      t = at::from_blob(
          const_cast<char*>(data), e.shape, [mapping](void*) {}, options);
    } else {
      t = at::empty(e.shape, options);
      if (nbytes > 0) std::memcpy(t.data_ptr(), data, nbytes);
    }
    result.tensors.push_back({e.name, std::move(t)});
  }
  return result;
}

}  // namespace

SafetensorsFile parse_safetensors(std::string_view bytes, const std::string& source_name) {
  return parse_bytes(bytes, source_name, nullptr);
}

std::string serialize_safetensors(const std::vector<NamedTensor>& tensors,
                                  const std::map<std::string, std::string>& metadata) {
  std::vector<const NamedTensor*> sorted;
  for (const auto& nt : tensors) sorted.push_back(&nt);
  std::sort(sorted.begin(), sorted.end(),
            [](const NamedTensor* a, const NamedTensor* b) { return a->name < b->name; });

  nlohmann::json header = nlohmann::json::object();
  std::vector<at::Tensor> contiguous;
  std::uint64_t offset = 0;
  for (std::size_t i = 0; i < sorted.size(); ++i) {
    const NamedTensor& nt = *sorted[i];
    if (i > 0 && sorted[i - 1]->name == nt.name)
      fail("cannot serialize safetensors: tensor name '{}' appears more than once", nt.name);
    if (nt.name == kMetadataKey)
      fail("cannot serialize safetensors: '{}' is reserved for metadata; rename the tensor",
           nt.name);
    if (!nt.tensor.defined())
      fail("cannot serialize safetensors: tensor '{}' is undefined", nt.name);
    const DtypeInfo* dtype = find_dtype(nt.tensor.scalar_type());
    if (dtype == nullptr)
      fail(
          "cannot serialize safetensors: tensor '{}' has dtype {}, which safetensors cannot "
          "store here; convert it to one of F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL",
          nt.name, c10::toString(nt.tensor.scalar_type()));
    at::Tensor t = nt.tensor.detach().to(at::kCPU).contiguous();
    const auto nbytes = static_cast<std::uint64_t>(t.numel()) * dtype->itemsize;
    header[nt.name] = {{"dtype", dtype->name},
                       {"shape", t.sizes().vec()},
                       {"data_offsets", {offset, offset + nbytes}}};
    offset += nbytes;
    contiguous.push_back(std::move(t));
  }
  if (!metadata.empty()) header[kMetadataKey] = metadata;

  std::string header_text;
  try {
    header_text = header.dump();
  } catch (const nlohmann::json::exception& e) {
    fail("cannot serialize safetensors: a tensor name or metadata string is not valid UTF-8: {}",
         e.what());
  }
  header_text.append((8 - header_text.size() % 8) % 8, ' ');  // buffer starts 8-byte aligned

  std::string out;
  out.reserve(8 + header_text.size() + offset);
  std::uint64_t len = header_text.size();
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((len >> (8 * i)) & 0xff));
  out += header_text;
  for (const auto& t : contiguous)
    out.append(static_cast<const char*>(t.data_ptr()), t.numel() * t.element_size());
  return out;
}

void write_safetensors(const std::string& path, const std::vector<NamedTensor>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  const std::string bytes = serialize_safetensors(tensors, metadata);
  const std::string tmp = fmt::format("{}.tmp.{}", path, ::getpid());

  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0)
    fail(
        "cannot write safetensors file '{}': creating temporary file '{}' failed: {} (check that "
        "the directory exists and is writable)",
        path, tmp, errno_text(errno));
  auto abandon = [&](const char* what, int err) {
    if (fd >= 0) ::close(fd);
    ::unlink(tmp.c_str());
    fail("cannot write safetensors file '{}': {} '{}' failed: {}", path, what, tmp,
         errno_text(err));
  };
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      abandon("writing", errno);
    }
    if (n == 0) abandon("writing", EIO);  // no progress: never loop forever
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0) abandon("fsync of", errno);
  const int close_rc = ::close(fd);
  fd = -1;
  if (close_rc != 0) abandon("closing", errno);
  if (::rename(tmp.c_str(), path.c_str()) != 0) abandon("renaming over the target", errno);

  // Make the rename itself durable.
  std::string dir = std::filesystem::path(path).parent_path().string();
  if (dir.empty()) dir = ".";
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0)
    fail("wrote safetensors file '{}' but could not open directory '{}' to fsync it: {}", path, dir,
         errno_text(errno));
  const int sync_rc = ::fsync(dfd);
  const int sync_err = errno;
  ::close(dfd);
  if (sync_rc != 0 && sync_err != EINVAL)  // EINVAL: the filesystem cannot sync directories
    fail("wrote safetensors file '{}' but fsync of directory '{}' failed: {}", path, dir,
         errno_text(sync_err));
}

SafetensorsFile read_safetensors(const std::string& path) {
  // The file is mapped, not read: tensors view the page cache until copied (into a model), which
  // saves a read of the whole file and a copy. The header is validated exactly as for bytes in
  // memory; sizes come from fstat, never from the header.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail("cannot open safetensors file '{}': {}", path, errno_text(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    fail("cannot stat safetensors file '{}': {}", path, errno_text(err));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    fail("safetensors path '{}' is not a regular file", path);
  }
  const auto size = static_cast<std::size_t>(st.st_size);
  if (size == 0) {  // mmap refuses empty files; the parser names the problem
    ::close(fd);
    return parse_bytes(std::string_view(), path, nullptr);
  }
  // MAP_PRIVATE: a later rewrite of the file by rename (as write_safetensors does) leaves this
  // mapping intact; PROT_WRITE only ever dirties private copy-on-write pages.
  void* addr = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  const int map_err = errno;
  ::close(fd);  // the mapping keeps the file open
  if (addr == MAP_FAILED)
    fail("cannot map safetensors file '{}' ({} bytes) into memory: {}", path, size,
         errno_text(map_err));
  ::madvise(addr, size, MADV_WILLNEED);  // start reading ahead; only a hint
  const std::shared_ptr<void> mapping(addr, [size](void* p) { ::munmap(p, size); });
  return parse_bytes(std::string_view(static_cast<const char*>(addr), size), path, mapping);
}

}  // namespace smx::io
