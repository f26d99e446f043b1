// ShardLineReader: the lines of one corpus shard (plain, gzip or zstd; compressed_stream.h), with
// the position of the next line in a form that resumes without re-reading what a restart point
// lets it skip.
//
// Errors (smx::Error) name the shard and the line being read: "SHARD:LINE: corrupt gzip data ...".
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <string>

#include "smx/data/compressed_stream.h"

namespace smx {

struct ShardPosition {
  uint64_t offset = 0;   // decompressed byte where the next line starts
  uint64_t line = 0;     // lines read so far (the next line is line + 1)
  RestartPoint restart;  // where decoding restarts to reach `offset`
};

enum class LineStatus { ok, end, overlong };

class ShardLineReader {
 public:
  static constexpr std::size_t kMaxLineBytes = 64u << 20;

  // Opens the shard and moves to `start` (decompressing from start.restart up to start.offset).
  ShardLineReader(const std::string& path, Compression compression, const ShardPosition& start);

  // ok: `line` holds the next line without its '\n'. end: no more lines. overlong: the line was
  // longer than kMaxLineBytes and has been passed over (position() is after it).
  LineStatus next(std::string& line);
  const ShardPosition& position() const { return position_; }
  const std::string& path() const { return path_; }

 private:
  bool fill();  // reads one more chunk into buffer_; false at the end
  [[noreturn]] void rethrow_with_line(const std::exception& e) const;

  std::string path_;
  Compression compression_;
  std::unique_ptr<CompressedStream> stream_;
  std::string buffer_;  // decompressed bytes not yet returned
  std::size_t buffer_pos_ = 0;
  uint64_t buffer_offset_ = 0;         // decompressed offset of buffer_[0]
  std::deque<RestartPoint> restarts_;  // seen, in order; front() is at or before position_
  ShardPosition position_;
  bool end_ = false;
};

}  // namespace smx
