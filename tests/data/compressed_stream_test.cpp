#include "smx/data/compressed_stream.h"

#include <gtest/gtest.h>

#include "data/corpus_shards.h"
#include "smx/core/error.h"
#include "support/scratch_dir.h"
#include "support/test_util.h"

namespace smx {
namespace {

using smx::testing::error_of;

std::string sample_text(int lines, int salt) {
  std::string text;
  for (int i = 0; i < lines; ++i)
    text += "line " + std::to_string(i * 7919 % 1000 + salt) + " of some sample text\n";
  return text;
}

// Reads the whole stream in chunks of `chunk` bytes; records each new restart point.
std::string read_all(CompressedStream& s, std::size_t chunk, std::vector<RestartPoint>* points) {
  const uint64_t base = s.decompressed_offset();
  std::string out, buf(chunk, '\0');
  for (;;) {
    const std::size_t n = s.read(buf.data(), chunk);
    if (n == 0) break;
    out.append(buf.data(), n);
    if (points && (points->empty() || !(points->back() == s.last_restart_point())))
      points->push_back(s.last_restart_point());
    EXPECT_EQ(s.decompressed_offset(), base + out.size());
  }
  return out;
}

TEST(CompressedStream, GzipAndZstdGiveThePlainBytes) {
  testing::ScratchDir dir;
  const std::string a = sample_text(4000, 1), b = sample_text(3000, 2), c = sample_text(10, 3);
  const std::string plain = a + b + c;
  const auto plain_path = dir.write("p.txt", plain);
  const auto gz1 = dir.write("one.txt.gz", testing::gzip_member(plain));
  const auto gz3 = dir.write("three.txt.gz", testing::gzip_parts({a, b, c}));
  const auto zs1 = dir.write("one.txt.zst", testing::zstd_frame(plain));
  const auto zs3 = dir.write("three.txt.zst", testing::zstd_parts({a, b, c}));
  EXPECT_EQ(detect_compression(plain_path), Compression::none);
  EXPECT_EQ(detect_compression(gz1), Compression::gzip);
  EXPECT_EQ(detect_compression(zs3), Compression::zstd);
  for (const auto& path : {plain_path, gz1, gz3, zs1, zs3}) {
    for (const std::size_t chunk : {std::size_t{1000}, std::size_t{1} << 20}) {
      CompressedStream s(path, detect_compression(path));
      EXPECT_EQ(read_all(s, chunk, nullptr), plain) << path << " chunk " << chunk;
    }
  }
}

TEST(CompressedStream, RestartPointsAreMemberAndFrameStarts) {
  testing::ScratchDir dir;
  const std::vector<std::string> parts = {sample_text(3000, 1), sample_text(2000, 2),
                                          sample_text(2500, 3)};
  const std::vector<std::pair<std::string, std::string>> files = {
      {"m.txt.gz", testing::gzip_parts(parts)}, {"m.txt.zst", testing::zstd_parts(parts)}};
  for (const auto& [name, bytes] : files) {
    const auto path = dir.write(name, bytes);
    const Compression kind = detect_compression(path);
    std::vector<RestartPoint> points;
    CompressedStream s(path, kind);
    read_all(s, 4096, &points);
    // Expected: the start of each part, compressed and decompressed.
    std::vector<RestartPoint> expected;
    uint64_t compressed = 0, decompressed = 0;
    for (const auto& p : parts) {
      expected.push_back({compressed, decompressed});
      compressed +=
          (kind == Compression::gzip ? testing::gzip_member(p) : testing::zstd_frame(p)).size();
      decompressed += p.size();
    }
    ASSERT_EQ(points.size(), expected.size()) << name;
    for (std::size_t i = 0; i < points.size(); ++i) {
      EXPECT_EQ(points[i].compressed, expected[i].compressed) << name << " part " << i;
      EXPECT_EQ(points[i].decompressed, expected[i].decompressed) << name << " part " << i;
    }
    // Decoding from the last point gives the last part alone.
    CompressedStream tail(path, kind, expected.back());
    EXPECT_EQ(read_all(tail, 4096, nullptr), parts.back()) << name;
  }
}

TEST(CompressedStream, CorruptAndTruncatedStreamsFail) {
  testing::ScratchDir dir;
  const std::string text = sample_text(20000, 5);
  std::string gz = testing::gzip_member(text), zs = testing::zstd_frame(text);
  auto corrupt = [](std::string bytes) {
    for (std::size_t i = bytes.size() / 2; i < bytes.size() / 2 + 16; ++i) bytes[i] ^= 0x5A;
    return bytes;
  };
  auto drain = [](const std::string& path) {
    CompressedStream s(path, detect_compression(path));
    std::string buf(1 << 16, '\0');
    while (s.read(buf.data(), buf.size()) > 0) {
    }
  };
  const auto bad_gz = dir.write("bad.txt.gz", corrupt(gz));
  EXPECT_NE(error_of([&] { drain(bad_gz); }).find("corrupt gzip data"), std::string::npos);
  const auto bad_zs = dir.write("bad.txt.zst", corrupt(zs));
  EXPECT_NE(error_of([&] { drain(bad_zs); }).find("corrupt zstd data"), std::string::npos);
  const auto short_gz = dir.write("short.txt.gz", gz.substr(0, gz.size() / 2));
  EXPECT_NE(error_of([&] { drain(short_gz); }).find("truncated gzip data"), std::string::npos);
  const auto short_zs = dir.write("short.txt.zst", zs.substr(0, zs.size() / 2));
  EXPECT_NE(error_of([&] { drain(short_zs); }).find("truncated zstd data"), std::string::npos);
  const auto garbage = dir.write("garbage.txt.gz", gz + "trailing garbage");
  EXPECT_NE(error_of([&] { drain(garbage); }).find("corrupt gzip data"), std::string::npos);
}

TEST(CompressedStream, NamesAndMagicBytesMustAgree) {
  testing::ScratchDir dir;
  const auto fake = dir.write("plain.jsonl.gz", "{\"text\": \"not compressed\"}\n");
  EXPECT_NE(error_of([&] { detect_compression(fake); }).find("its name says gzip"),
            std::string::npos);
  const auto bz = dir.write("old.jsonl.bz2", "BZh91AY&SY");
  EXPECT_NE(error_of([&] { detect_compression(bz); }).find("bzip2 or xz"), std::string::npos);
  const auto renamed = dir.write("renamed.jsonl", testing::zstd_frame("{}\n"));
  EXPECT_EQ(detect_compression(renamed), Compression::zstd) << "the bytes decide";
}

}  // namespace
}  // namespace smx
