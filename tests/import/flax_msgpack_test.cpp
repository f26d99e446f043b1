// The Flax msgpack reader: arrays (fp32, bf16 under both names, float64, scalars), chunked arrays,
// plain values, and hostile input (truncation, trailing bytes, payloads that lie about their size,
// oversized containers, deep nesting) as errors naming the file and path, never a crash.
#define MSGPACK_NO_BOOST
#include <msgpack.hpp>

#include <cstring>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "smx/import/flax_msgpack.h"
#include "support/test_util.h"

namespace smx::importer {
namespace {

using smx::testing::expect_error;

// msgpack [shape, dtype, bytes], as Flax's _ndarray_to_bytes writes it.
std::string array_payload(const std::vector<int64_t>& shape, const std::string& dtype,
                          const std::string& bytes) {
  msgpack::sbuffer buf;
  msgpack::packer<msgpack::sbuffer> pk(buf);
  pk.pack_array(3);
  pk.pack_array(static_cast<uint32_t>(shape.size()));
  for (int64_t d : shape) pk.pack(d);
  pk.pack(dtype);
  pk.pack_bin(static_cast<uint32_t>(bytes.size()));
  pk.pack_bin_body(bytes.data(), static_cast<uint32_t>(bytes.size()));
  return std::string(buf.data(), buf.size());
}

void pack_ext(msgpack::packer<msgpack::sbuffer>& pk, int8_t code, const std::string& payload) {
  pk.pack_ext(payload.size(), code);
  pk.pack_ext_body(payload.data(), static_cast<uint32_t>(payload.size()));
}

std::string floats(const std::vector<float>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * 4);
}

std::string bf16(const std::vector<float>& v) {  // truncation is exact for these values
  std::string out;
  for (float f : v) {
    uint32_t bits;
    std::memcpy(&bits, &f, 4);
    const uint16_t hi = static_cast<uint16_t>(bits >> 16);
    out.append(reinterpret_cast<const char*>(&hi), 2);
  }
  return out;
}

FlaxCheckpoint parse(const std::string& bytes) {
  return parse_flax_checkpoint(std::make_shared<const std::string>(bytes), "test.msgpack");
}

// {"step": 7, "params": {"a": f32 [2,3], "b": bf16 [2], "c": void16 [2], "d": f64 [], "e":
//  chunked [2,2] in 3 chunks, "s": np scalar int32}}
std::string sample() {
  msgpack::sbuffer buf;
  msgpack::packer<msgpack::sbuffer> pk(buf);
  pk.pack_map(2);
  pk.pack(std::string("step"));
  pk.pack(7);
  pk.pack(std::string("params"));
  pk.pack_map(6);
  pk.pack(std::string("a"));
  pack_ext(pk, 1, array_payload({2, 3}, "float32", floats({1, 2, 3, 4, 5, 6})));
  pk.pack(std::string("b"));
  pack_ext(pk, 1, array_payload({2}, "bfloat16", bf16({1.5f, -2.0f})));
  pk.pack(std::string("c"));
  pack_ext(pk, 1, array_payload({2}, "void16", bf16({0.25f, 8.0f})));
  pk.pack(std::string("d"));
  const double d = 3.5;
  pack_ext(pk, 1, array_payload({}, "float64", std::string(reinterpret_cast<const char*>(&d), 8)));
  pk.pack(std::string("e"));
  pk.pack_map(3);
  pk.pack(std::string("__msgpack_chunked_array__"));
  pk.pack(true);
  pk.pack(std::string("shape"));
  pk.pack_map(2);
  pk.pack(std::string("0"));
  pk.pack(2);
  pk.pack(std::string("1"));
  pk.pack(2);
  pk.pack(std::string("chunks"));
  pk.pack_map(3);
  pk.pack(std::string("1"));  // out of order on purpose: keys name the order
  pack_ext(pk, 1, array_payload({2}, "float32", floats({11, 12})));
  pk.pack(std::string("0"));
  pack_ext(pk, 1, array_payload({1}, "float32", floats({10})));
  pk.pack(std::string("2"));
  pack_ext(pk, 1, array_payload({1}, "float32", floats({13})));
  pk.pack(std::string("s"));
  const int32_t s = 42;
  pack_ext(pk, 3, array_payload({}, "int32", std::string(reinterpret_cast<const char*>(&s), 4)));
  return std::string(buf.data(), buf.size());
}

TEST(FlaxMsgpackTest, ReadsArraysScalarsAndChunks) {
  const FlaxCheckpoint c = parse(sample());
  ASSERT_EQ(c.leaves.size(), 7U);
  const FlaxLeaf* step = c.find("step");
  ASSERT_NE(step, nullptr);
  EXPECT_EQ(step->kind, FlaxLeaf::Kind::kInteger);
  EXPECT_EQ(step->integer, 7);
  auto tensor = [&](const std::string& path) {
    const FlaxLeaf* leaf = c.find(path);
    EXPECT_NE(leaf, nullptr) << path;
    return flax_array_to_float(leaf->array, path);
  };
  smx::testing::expect_close(tensor("params/a"), torch::arange(1, 7, torch::kFloat).reshape({2, 3}),
                             0, "f32");
  smx::testing::expect_close(tensor("params/b"), torch::tensor({1.5f, -2.0f}), 0, "bfloat16");
  smx::testing::expect_close(tensor("params/c"), torch::tensor({0.25f, 8.0f}), 0, "void16");
  EXPECT_EQ(tensor("params/d").dim(), 0);
  EXPECT_EQ(tensor("params/d").item<float>(), 3.5f);
  EXPECT_TRUE(c.find("params/e")->array.chunked);
  smx::testing::expect_close(tensor("params/e"),
                             torch::tensor({10.f, 11.f, 12.f, 13.f}).reshape({2, 2}), 0, "chunked");
  EXPECT_EQ(c.find("params/s")->array.dtype, "int32");
  expect_error([&] { tensor("params/s"); }, "int32 is not a floating-point type");
}

TEST(FlaxMsgpackTest, EveryTruncationIsAnErrorNotACrash) {
  const std::string bytes = sample();
  int errors = 0;
  for (size_t n = 0; n < bytes.size(); ++n) {
    try {
      parse(bytes.substr(0, n));
    } catch (const Error& e) {
      ++errors;
      EXPECT_NE(std::string(e.what()).find("test.msgpack"), std::string::npos) << e.what();
    }
  }
  std::printf("    %d of %zu truncations rejected\n", errors, bytes.size());
  EXPECT_EQ(errors, static_cast<int>(bytes.size()));
}

TEST(FlaxMsgpackTest, EveryFlippedByteParsesOrFailsCleanly) {
  const std::string bytes = sample();
  int errors = 0;
  for (size_t i = 0; i < bytes.size(); ++i)
    for (unsigned char x : {0x01, 0x80, 0xff}) {
      std::string bad = bytes;
      bad[i] = static_cast<char>(bad[i] ^ x);
      try {
        const FlaxCheckpoint c = parse(bad);
        for (const auto& leaf : c.leaves)
          if (leaf.kind == FlaxLeaf::Kind::kArray) {
            EXPECT_EQ(leaf.array.data.size(),
                      static_cast<size_t>(leaf.array.numel() * flax_dtype_size(leaf.array.dtype)));
          }
      } catch (const Error&) {
        ++errors;
      }
    }
  std::printf("    %d of %zu corrupted files rejected, the rest read consistently\n", errors,
              bytes.size() * 3);
  EXPECT_GT(errors, 0);
}

TEST(FlaxMsgpackTest, PayloadsThatLieAboutTheirSizeAreRejected) {
  auto one = [](const std::string& payload) {
    msgpack::sbuffer buf;
    msgpack::packer<msgpack::sbuffer> pk(buf);
    pk.pack_map(1);
    pk.pack(std::string("w"));
    pack_ext(pk, 1, payload);
    return std::string(buf.data(), buf.size());
  };
  expect_error(
      [&] {
        parse(one(array_payload({4, 4}, "float32", floats({1, 2}))));
      },
      "needs 64 bytes but holds 8");
  expect_error(
      [&] {
        parse(one(array_payload({int64_t{1} << 40, int64_t{1} << 40}, "float32", "")));
      },
      "too many elements");
  expect_error([&] { parse(one("\x93\x90")); }, "ends early");
  expect_error([&] { parse(sample() + "x"); }, "trailing data");
  expect_error([&] { parse(std::string("\x92\x01\x02", 3)); }, "top level is not a map");
  expect_error([&] { parse(""); }, "empty file");
}

TEST(FlaxMsgpackTest, HostileContainerSizesAndDepthAreRefused) {
  // A map header claiming 2^32 - 1 entries in five bytes must not allocate them.
  expect_error([&] { parse(std::string("\xdf\xff\xff\xff\xff", 5)); }, "test.msgpack");
  // 100,000 nested one-entry maps.
  std::string deep;
  for (int i = 0; i < 100000; ++i) deep += "\x81\xa1k";
  deep += '\x01';
  expect_error([&] { parse(deep); }, "test.msgpack");
}

TEST(FlaxMsgpackTest, BadChunkedArraysAreRejected) {
  msgpack::sbuffer buf;
  msgpack::packer<msgpack::sbuffer> pk(buf);
  pk.pack_map(1);
  pk.pack(std::string("w"));
  pk.pack_map(3);
  pk.pack(std::string("__msgpack_chunked_array__"));
  pk.pack(true);
  pk.pack(std::string("shape"));
  pk.pack_map(1);
  pk.pack(std::string("0"));
  pk.pack(5);
  pk.pack(std::string("chunks"));
  pk.pack_map(1);
  pk.pack(std::string("0"));
  pack_ext(pk, 1, array_payload({2}, "float32", floats({1, 2})));
  expect_error([&] { parse(std::string(buf.data(), buf.size())); }, "chunks hold 8 bytes");
}

}  // namespace
}  // namespace smx::importer
