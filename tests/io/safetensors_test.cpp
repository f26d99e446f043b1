#include "smx/io/safetensors.h"
#include "support/scratch_dir.h"
#include "support/test_util.h"

#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <sstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "smx/core/error.h"

namespace smx::io {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

using TempDir = smx::testing::ScratchDir;

using smx::testing::expect_error_all;

// Bytes as another implementation would write them: u64 LE length, header text, buffer.
std::string build_file(const std::string& header, const std::string& buffer) {
  std::string out;
  const std::uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((n >> (8 * i)) & 0xff));
  return out + header + buffer;
}

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Bitwise equality, so NaN payloads and -0.0 count too.
bool same_bytes(const at::Tensor& a, const at::Tensor& b) {
  if (a.scalar_type() != b.scalar_type() || a.sizes() != b.sizes()) return false;
  at::Tensor ca = a.contiguous(), cb = b.contiguous();
  const auto n = static_cast<std::size_t>(ca.numel() * ca.element_size());
  return n == 0 || std::memcmp(ca.data_ptr(), cb.data_ptr(), n) == 0;
}

const at::Tensor& find(const SafetensorsFile& f, const std::string& name) {
  for (const auto& nt : f.tensors)
    if (nt.name == name) return nt.tensor;
  throw std::runtime_error("no tensor " + name);
}

std::vector<NamedTensor> every_dtype() {
  torch::manual_seed(0);
  auto f32 = torch::randn({3, 5});
  f32[0][0] = -0.0f;
  f32[0][1] = std::numeric_limits<float>::quiet_NaN();
  f32[0][2] = std::numeric_limits<float>::infinity();
  return {
      {"f64", torch::randn({2, 3}, torch::kDouble)},
      {"f32", f32},
      {"f16", torch::randn({4}).to(torch::kHalf)},
      {"bf16", torch::randn({2, 2, 2}).to(torch::kBFloat16)},
      {"i64", torch::tensor({std::numeric_limits<std::int64_t>::min(), std::int64_t{-1},
                             std::numeric_limits<std::int64_t>::max()})},
      {"i32", torch::randint(-1000, 1000, {7}, torch::kInt)},
      {"i16", torch::randint(-1000, 1000, {2, 3}, torch::kShort)},
      {"i8", torch::randint(-128, 127, {5}, torch::kChar)},
      {"u8", torch::randint(0, 255, {5}, torch::kByte)},
      {"bool", torch::tensor({true, false, true})},
      {"scalar", torch::tensor(3.5)},   // 0-d
      {"empty", torch::empty({0, 4})},  // no bytes
      {"non_contiguous", torch::arange(12.).view({3, 4}).t()},
  };
}

TEST(Safetensors, RoundTripsEveryDtypeBitExact) {
  const auto tensors = every_dtype();
  const std::map<std::string, std::string> meta = {{"format", "pt"}, {"note", "ünïcode ✓"}};
  const std::string bytes = serialize_safetensors(tensors, meta);
  const SafetensorsFile f = parse_safetensors(bytes, "mem");
  ASSERT_EQ(f.tensors.size(), tensors.size());
  for (const auto& nt : tensors) {
    SCOPED_TRACE(nt.name);
    const at::Tensor& got = find(f, nt.name);
    EXPECT_TRUE(same_bytes(got, nt.tensor));
    EXPECT_EQ(got.device(), at::kCPU);
    EXPECT_TRUE(got.is_contiguous());
  }
  EXPECT_EQ(find(f, "scalar").dim(), 0);
  EXPECT_EQ(f.metadata, meta);
  // Name order in the result.
  for (std::size_t i = 1; i < f.tensors.size(); ++i)
    EXPECT_LT(f.tensors[i - 1].name, f.tensors[i].name);
}

TEST(Safetensors, LayoutFollowsTheFormat) {
  const std::string bytes =
      serialize_safetensors({{"b", torch::ones({2})}, {"a", torch::zeros({1}, torch::kInt)}});
  std::uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<unsigned char>(bytes[i]);
  EXPECT_EQ((8 + n) % 8, 0u);
  ASSERT_EQ(bytes.size(), 8 + n + 4 + 8);
  const auto header = nlohmann::json::parse(bytes.substr(8, n));
  EXPECT_EQ(header["a"]["data_offsets"], nlohmann::json({0, 4}));  // name order
  EXPECT_EQ(header["b"]["data_offsets"], nlohmann::json({4, 12}));
  EXPECT_EQ(header["b"]["dtype"], "F32");
  EXPECT_FALSE(header.contains("__metadata__"));  // omitted when empty
}

TEST(Safetensors, ResultOwnsItsMemory) {
  std::string bytes = serialize_safetensors({{"x", torch::ones({4})}});
  const SafetensorsFile f = parse_safetensors(bytes, "mem");
  std::fill(bytes.begin(), bytes.end(), '\0');
  EXPECT_TRUE(torch::equal(f.tensors[0].tensor, torch::ones({4})));
}

TEST(Safetensors, ParsesForeignFileWithPaddingAndUnsortedOffsets) {
  // "z" comes first in the buffer, "a" second; header padded with spaces as the Rust writer does.
  std::string header =
      R"({"__metadata__":{"format":"pt"},"a":{"dtype":"I16","shape":[2],"data_offsets":[4,8]},)"
      R"("z":{"dtype":"F32","shape":[],"data_offsets":[0,4]}})";
  header.append((8 - header.size() % 8) % 8 + 8, ' ');
  const float z = 1.5f;
  const std::int16_t a[2] = {-2, 300};
  std::string buffer(reinterpret_cast<const char*>(&z), 4);
  buffer.append(reinterpret_cast<const char*>(a), 4);
  const SafetensorsFile f = parse_safetensors(build_file(header, buffer), "foreign");
  ASSERT_EQ(f.tensors.size(), 2u);
  EXPECT_EQ(f.tensors[0].name, "a");
  EXPECT_EQ(f.tensors[0].tensor.scalar_type(), at::kShort);
  EXPECT_TRUE(torch::equal(f.tensors[0].tensor, torch::tensor({-2, 300}, torch::kShort)));
  EXPECT_EQ(f.tensors[1].tensor.dim(), 0);
  EXPECT_EQ(f.tensors[1].tensor.item<float>(), 1.5f);
  EXPECT_EQ(f.metadata.at("format"), "pt");
}

TEST(Safetensors, EmptyFileWithNoTensors) {
  const SafetensorsFile f = parse_safetensors(serialize_safetensors({}), "mem");
  EXPECT_TRUE(f.tensors.empty());
  EXPECT_TRUE(f.metadata.empty());
}

// A one-tensor header around a 4-byte buffer.
std::string one(const std::string& entry, const std::string& buffer = std::string(4, '\0')) {
  return build_file(R"({"t":)" + entry + "}", buffer);
}

TEST(Safetensors, RejectsHostileInput) {
  auto parse = [](const std::string& bytes) {
    return [bytes] { parse_safetensors(bytes, "evil.safetensors"); };
  };
  expect_error_all(parse("abc"), {"evil.safetensors", "shorter than the 8-byte"});
  expect_error_all(parse(std::string("\xff\xff\xff\xff\xff\xff\xff\x7f", 8) + "{}"),
                   {"evil.safetensors", "100 MiB"});
  expect_error_all(parse(build_file("{}", "").substr(0, 9)), {"runs past the end"});
  {
    std::string big = build_file("{}", "");
    big[3] = 0x10;  // 256 MiB header length
    expect_error_all(parse(big), {"100 MiB"});
  }
  expect_error_all(parse(build_file("{\"t\": ", "")), {"evil.safetensors", "not valid JSON"});
  expect_error_all(parse(build_file("[1, 2]", "")), {"header is a JSON array"});
  expect_error_all(parse(build_file(std::string(1000, '[') + std::string(1000, ']'), "")),
                   {"nests deeper"});
  expect_error_all(parse(build_file("{\"t\": \"\xff\"}", "")), {"not valid JSON"});  // bad UTF-8
  expect_error_all(parse(one("5")), {"tensor 't'", "expected an object"});
  expect_error_all(parse(one(R"({"dtype":"F8","shape":[1],"data_offsets":[0,4]})")),
                   {"tensor 't'", "unsupported dtype \"F8\""});
  expect_error_all(parse(one(R"({"dtype":7,"shape":[1],"data_offsets":[0,4]})")),
                   {"tensor 't'", "dtype"});
  expect_error_all(parse(one(R"({"shape":[1],"data_offsets":[0,4]})")), {"tensor 't'", "dtype"});
  expect_error_all(parse(one(R"({"dtype":"F32","shape":[-1],"data_offsets":[0,4]})")),
                   {"tensor 't'", "shape[0] is -1"});
  expect_error_all(parse(one(R"({"dtype":"F32","shape":[1.5],"data_offsets":[0,4]})")),
                   {"tensor 't'", "shape[0] is 1.5"});
  expect_error_all(parse(one(R"({"dtype":"F32","shape":"1","data_offsets":[0,4]})")),
                   {"tensor 't'", "not a list"});
  expect_error_all(parse(one(R"({"dtype":"F32","data_offsets":[0,4]})")), {"tensor 't'", "shape"});
  expect_error_all(
      parse(one(R"({"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,4]})")),
      {"tensor 't'", "too many elements"});
  expect_error_all(parse(one(R"({"dtype":"F32","shape":[0,4294967296,4294967296],)"
                             R"("data_offsets":[0,0]})",
                             "")),
                   {"tensor 't'", "too many elements"});
  expect_error_all(
      parse(one(R"({"dtype":"F32","shape":[18446744073709551615],"data_offsets":[0,4]})")),
      {"tensor 't'", "too many elements"});
  expect_error_all(parse(one(R"({"dtype":"F32","shape":[1],"data_offsets":[0]})")),
                   {"tensor 't'", "two non-negative integers"});
  expect_error_all(parse(one(R"({"dtype":"F32","shape":[1],"data_offsets":[0,-4]})")),
                   {"tensor 't'", "two non-negative integers"});
  expect_error_all(parse(one(R"({"dtype":"F32","shape":[1]})")), {"tensor 't'", "data_offsets"});
  expect_error_all(parse(one(R"({"dtype":"F32","shape":[1],"data_offsets":[4,0]})")),
                   {"tensor 't'", "[4, 0]", "not a range"});
  expect_error_all(parse(one(R"({"dtype":"F32","shape":[1],"data_offsets":[0,8]})")),
                   {"tensor 't'", "4-byte data buffer"});
  expect_error_all(parse(one(R"({"dtype":"F32","shape":[2],"data_offsets":[0,4]})")),
                   {"tensor 't'", "needs 8 bytes"});
  expect_error_all(parse(one(R"({"dtype":"BOOL","shape":[4],"data_offsets":[0,4]})",
                             std::string("\x00\x01\x02\x00", 4))),
                   {"tensor 't'", "byte value 2", "file offset"});
  expect_error_all(parse(build_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                                    R"("b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                                    std::string(8, '\0'))),
                   {"tensor 'b'", "overlaps tensor 'a'"});
  expect_error_all(parse(build_file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                                    R"("b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})",
                                    std::string(12, '\0'))),
                   {"buffer bytes [4, 8)", "before tensor 'b'", "belong to no tensor"});
  expect_error_all(
      parse(one(R"({"dtype":"F32","shape":[1],"data_offsets":[0,4]})", std::string(6, '\0'))),
      {"buffer bytes [4, 6)", "at the end"});
  expect_error_all(parse(build_file(R"({"__metadata__":{"k":1}})", "")),
                   {"evil.safetensors", "metadata value for key 'k'"});
  expect_error_all(parse(build_file(R"({"__metadata__":[]})", "")), {"__metadata__"});
}

TEST(Safetensors, EveryTruncationIsAnErrorNotACrash) {
  const std::string bytes = serialize_safetensors(
      {{"a", torch::randn({3})}, {"b", torch::tensor({1, 2}, torch::kLong)}}, {{"k", "v"}});
  ASSERT_NO_THROW(parse_safetensors(bytes, "full"));
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    SCOPED_TRACE(n);
    EXPECT_THROW(parse_safetensors(std::string_view(bytes).substr(0, n), "cut"), smx::Error);
  }
}

TEST(Safetensors, CorruptedBytesGiveOnlySmxErrors) {
  const std::string good = serialize_safetensors(
      {{"a", torch::randn({3})}, {"b", torch::tensor({true, false})}}, {{"k", "v"}});
  std::mt19937 rng(42);
  int parsed = 0, rejected = 0;
  for (int trial = 0; trial < 3000; ++trial) {
    std::string bytes = good;
    const int flips = 1 + static_cast<int>(rng() % 3);
    for (int i = 0; i < flips; ++i) bytes[rng() % bytes.size()] = static_cast<char>(rng() & 0xff);
    try {
      parse_safetensors(bytes, "fuzz");
      ++parsed;
    } catch (const smx::Error&) {
      ++rejected;
    } catch (const std::exception& e) {
      ADD_FAILURE() << "non-smx exception: " << e.what();
    }
  }
  EXPECT_GT(rejected, 0);
  EXPECT_GT(parsed, 0);  // flips inside float data are valid files
}

TEST(Safetensors, WriterRejectsBadInput) {
  expect_error_all(
      [] {
        serialize_safetensors({{"x", torch::ones(1)}, {"x", torch::ones(2)}});
      },
      {"'x' appears more than once"});
  expect_error_all([] { serialize_safetensors({{"__metadata__", torch::ones(1)}}); }, {"reserved"});
  expect_error_all([] { serialize_safetensors({{"u", at::Tensor()}}); }, {"'u' is undefined"});
  expect_error_all(
      [] {
        serialize_safetensors({{"c", torch::ones(2, torch::kComplexFloat)}});
      },
      {"'c'", "ComplexFloat"});
}

TEST(Safetensors, FileRoundTripAndAtomicReplace) {
  TempDir dir;
  const std::string path = dir.file("w.safetensors");
  write_safetensors(path, {{"old", torch::ones({2})}});
  const auto tensors = every_dtype();
  write_safetensors(path, tensors, {{"step", "7"}});  // replaces the existing file
  const SafetensorsFile f = read_safetensors(path);
  ASSERT_EQ(f.tensors.size(), tensors.size());
  for (const auto& nt : tensors) EXPECT_TRUE(same_bytes(find(f, nt.name), nt.tensor)) << nt.name;
  EXPECT_EQ(f.metadata.at("step"), "7");
  EXPECT_EQ(read_bytes(path), serialize_safetensors(tensors, {{"step", "7"}}));
  // Only the target is left: no temporary files.
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir.path())) names.push_back(e.path().filename());
  EXPECT_EQ(names, std::vector<std::string>{"w.safetensors"});
}

TEST(Safetensors, FailedWriteLeavesNoTempAndKeepsOldFile) {
  TempDir dir;
  const std::string missing_dir = dir.file("no/such/dir/w.safetensors");
  expect_error_all(
      [&] {
        write_safetensors(missing_dir, {{"x", torch::ones(1)}});
      },
      {missing_dir, "No such file or directory"});
  // Renaming over a directory fails after the temp file was written: it must be cleaned up.
  const std::string target = dir.file("target");
  fs::create_directories(fs::path(target) / "child");
  expect_error_all(
      [&] {
        write_safetensors(target, {{"x", torch::ones(1)}});
      },
      {target, "renaming"});
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir.path())) names.push_back(e.path().filename());
  EXPECT_EQ(names, std::vector<std::string>{"target"});
}

TEST(Safetensors, ReadErrorsNameThePath) {
  TempDir dir;
  expect_error_all([&] { read_safetensors(dir.file("absent.safetensors")); },
                   {"absent.safetensors", "No such file or directory"});
  expect_error_all([&] { read_safetensors(dir.path().string()); }, {"not a regular file"});
  const std::string bad = dir.file("bad.safetensors");
  std::ofstream(bad, std::ios::binary) << "1234";
  expect_error_all([&] { read_safetensors(bad); }, {bad, "shorter than the 8-byte"});
}

// read_safetensors maps the file: its tensors must equal parse_safetensors' of the same bytes,
// also when the data is not aligned for the dtype (then they are copied, not viewed).
TEST(Safetensors, MappedReadMatchesParsedBytes) {
  TempDir dir;
  const std::string ours = dir.file("ours.safetensors");
  write_safetensors(ours, every_dtype());
  // A foreign layout: an unpadded header puts the buffer at an odd file offset, and a 3-byte BOOL
  // tensor shifts the F32 after it off its 4-byte alignment.
  const std::string header = R"({"b":{"dtype":"BOOL","shape":[3],"data_offsets":[0,3]},)"
                             R"("f":{"dtype":"F32","shape":[2],"data_offsets":[3,11]}})";
  const float f[2] = {1.25f, -7.5f};
  std::string buffer("\1\0\1", 3);
  buffer.append(reinterpret_cast<const char*>(f), 8);
  const std::string foreign = dir.file("foreign.safetensors");
  std::ofstream(foreign, std::ios::binary) << build_file(header, buffer);
  ASSERT_EQ((8 + header.size()) % 2, 1u);  // the layout this test means to cover
  for (const std::string& path : {ours, foreign}) {
    SCOPED_TRACE(path);
    const SafetensorsFile mapped = read_safetensors(path);
    const SafetensorsFile parsed = parse_safetensors(read_bytes(path), path);
    ASSERT_EQ(mapped.tensors.size(), parsed.tensors.size());
    for (std::size_t i = 0; i < parsed.tensors.size(); ++i) {
      EXPECT_EQ(mapped.tensors[i].name, parsed.tensors[i].name);
      EXPECT_TRUE(same_bytes(mapped.tensors[i].tensor, parsed.tensors[i].tensor))
          << parsed.tensors[i].name;
    }
  }
  EXPECT_TRUE(torch::equal(find(read_safetensors(foreign), "f"), torch::tensor({1.25f, -7.5f})));
}

TEST(Safetensors, MappedTensorsAreWritableCopiesAndOutliveTheFile) {
  TempDir dir;
  const std::string path = dir.file("w.safetensors");
  write_safetensors(path, {{"x", torch::arange(6.).to(torch::kFloat)}});
  const std::string before = read_bytes(path);
  SafetensorsFile f = read_safetensors(path);
  f.tensors[0].tensor.add_(100);        // in-place update, as an optimizer does to loaded moments
  EXPECT_EQ(read_bytes(path), before);  // never written through to the file
  EXPECT_TRUE(torch::equal(find(read_safetensors(path), "x"), torch::arange(6.).to(torch::kFloat)));
  // Replaced (as write_safetensors does) and removed: the tensors read earlier stay valid.
  write_safetensors(path, {{"x", torch::zeros({6})}});
  std::filesystem::remove(path);
  EXPECT_TRUE(torch::equal(f.tensors[0].tensor, torch::arange(6.).to(torch::kFloat) + 100));
}

TEST(Safetensors, MappedReadRejectsEveryTruncationAndBadOffsets) {
  TempDir dir;
  const std::string bytes = serialize_safetensors(
      {{"a", torch::randn({3})}, {"b", torch::tensor({1, 2}, torch::kLong)}}, {{"k", "v"}});
  const std::string path = dir.file("cut.safetensors");
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    SCOPED_TRACE(n);
    std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes.substr(0, n);
    EXPECT_THROW(read_safetensors(path), smx::Error);
  }
  // Offsets past the end of the file are refused from the header, before any data is touched.
  std::ofstream(path, std::ios::binary | std::ios::trunc) << build_file(
      R"({"a":{"dtype":"F32","shape":[1024],"data_offsets":[0,4096]}})", std::string(4, '\0'));
  expect_error_all([&] { read_safetensors(path); }, {path, "data_offsets [0, 4096]"});
}

}  // namespace
}  // namespace smx::io
