// CompressedStream: the decompressed bytes of one corpus shard (plain, gzip or zstd), read in
// chunks so that a shard is never held in memory whole.
//
// The compression is recognised by the file's first bytes (gzip 1f 8b, zstd 28 b5 2f fd), not by
// its name; a name ending in .gz / .zst / .zstd whose bytes say otherwise is an error, and so are
// bzip2 and xz files (not supported: recompress them with gzip or zstd).
//
// Restart points: decoding can begin again only where the compressed stream starts afresh: any
// byte of a plain file, the start of a gzip member, the start of a zstd frame. The stream reports
// each such point it passes (restart_points()), so a reader can resume in the middle of a shard by
// seeking to the last point before its position and decompressing only from there. Single-member
// gzip files (C4's) and single-frame zstd files have one restart point, their start: resuming in
// them decompresses the shard from its start up to the position (no parsing or tokenization).
//
// Errors (smx::Error) state what is wrong with the stream (corrupt data, truncated, trailing
// garbage); the caller adds the shard and line.
#pragma once

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

namespace smx {

enum class Compression { none, gzip, zstd };

std::string to_string(Compression compression);
// By the first bytes of the file; throws smx::Error for bzip2 / xz or a name that contradicts the
// bytes.
Compression detect_compression(const std::string& path);

// A place where decoding may start: `compressed` bytes into the file, `decompressed` bytes into
// the decompressed text.
struct RestartPoint {
  uint64_t compressed = 0;
  uint64_t decompressed = 0;
  bool operator==(const RestartPoint& o) const {
    return compressed == o.compressed && decompressed == o.decompressed;
  }
};

class CompressedStream {
 public:
  // Opens `path` and starts decoding at `from` (which must be a restart point of this file).
  CompressedStream(const std::string& path, Compression compression, RestartPoint from = {});
  ~CompressedStream();
  CompressedStream(const CompressedStream&) = delete;
  CompressedStream& operator=(const CompressedStream&) = delete;

  // Up to `capacity` decompressed bytes into `out`; 0 only at the end of the file. A chunk never
  // spans a gzip member or zstd frame boundary.
  std::size_t read(char* out, std::size_t capacity);
  // Decompressed bytes returned so far (counted from the start of the file).
  uint64_t decompressed_offset() const { return decompressed_; }
  // The latest restart point at or before decompressed_offset(). For plain files every offset is
  // one.
  RestartPoint last_restart_point() const;

 private:
  struct Decoder;
  bool fill_input();  // false at the end of the file

  std::string path_;
  Compression compression_;
  std::FILE* file_ = nullptr;
  std::vector<char> input_;
  std::size_t input_pos_ = 0, input_len_ = 0;
  uint64_t input_file_offset_ = 0;  // file offset of input_[0]
  uint64_t decompressed_ = 0;
  RestartPoint restart_;
  bool frame_open_ = false;  // inside a gzip member / zstd frame
  bool eof_ = false;
  std::unique_ptr<Decoder> decoder_;
};

}  // namespace smx
