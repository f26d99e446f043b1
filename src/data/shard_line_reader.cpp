#include "smx/data/shard_line_reader.h"

#include <cstring>

#include "smx/core/error.h"

namespace smx {
namespace {

constexpr std::size_t kChunkBytes = 64 * 1024;

}  // namespace

ShardLineReader::ShardLineReader(const std::string& path, Compression compression,
                                 const ShardPosition& start)
    : path_(path), compression_(compression), position_(start) {
  if (start.restart.decompressed > start.offset) {
    fail("corpus shard {}: restart point {} lies after the position {}; the saved state is corrupt",
         path, start.restart.decompressed, start.offset);
  }
  try {
    stream_ = std::make_unique<CompressedStream>(path, compression, start.restart);
  } catch (const Error& e) {
    fail(
        "corpus shard {}:{}: {}; the shard was readable when the corpus was opened: was it moved, "
        "deleted or its permissions changed?",
        path, start.line + 1, e.what());
  }
  restarts_.push_back(start.restart);
  buffer_offset_ = start.restart.decompressed;
  // Skip the decompressed bytes between the restart point and the position.
  while (buffer_offset_ + buffer_.size() < start.offset) {
    buffer_offset_ += buffer_.size();
    buffer_.clear();
    if (!fill()) {
      fail(
          "corpus shard {}: ends at decompressed byte {}, before the saved position {} (line {}); "
          "the shard changed since the state was saved",
          path, buffer_offset_ + buffer_.size(), start.offset, start.line);
    }
  }
  buffer_pos_ = static_cast<std::size_t>(start.offset - buffer_offset_);
}

void ShardLineReader::rethrow_with_line(const std::exception& e) const {
  fail("corpus shard {}:{}: {}", path_, position_.line + 1, e.what());
}

bool ShardLineReader::fill() {
  if (end_) return false;
  const std::size_t old = buffer_.size();
  buffer_.resize(old + kChunkBytes);
  std::size_t n = 0;
  try {
    n = stream_->read(buffer_.data() + old, kChunkBytes);
  } catch (const Error& e) {
    buffer_.resize(old);
    end_ = true;
    rethrow_with_line(e);
  }
  buffer_.resize(old + n);
  if (n == 0) {
    end_ = true;
    return false;
  }
  if (compression_ != Compression::none) {
    const RestartPoint point = stream_->last_restart_point();
    if (!(point == restarts_.back())) restarts_.push_back(point);
  }
  return true;
}

LineStatus ShardLineReader::next(std::string& line) {
  bool overlong = false;
  for (;;) {
    const char* begin = buffer_.data() + buffer_pos_;
    std::size_t available = buffer_.size() - buffer_pos_;
    const char* nl =
        available ? static_cast<const char*>(std::memchr(begin, '\n', available)) : nullptr;
    if (nl) {
      const auto length = static_cast<std::size_t>(nl - begin);
      if (!overlong) line.assign(begin, length);
      buffer_pos_ += length + 1;
      break;
    }
    if (!end_) {
      // No '\n' yet: keep the partial line, drop what was returned before it, read more.
      buffer_.erase(0, buffer_pos_);
      buffer_offset_ += buffer_pos_;
      buffer_pos_ = 0;
      if (buffer_.size() > kMaxLineBytes) {  // pass over the rest of this line
        overlong = true;
        buffer_offset_ += buffer_.size();
        buffer_.clear();
      }
      if (fill()) continue;
    }
    // The end of the shard: a last line without '\n', or nothing.
    available = buffer_.size() - buffer_pos_;
    if (available == 0 && !overlong) return LineStatus::end;
    if (!overlong) line.assign(buffer_.data() + buffer_pos_, available);
    buffer_pos_ += available;
    break;
  }
  position_.offset = buffer_offset_ + buffer_pos_;
  ++position_.line;
  // The restart point for the next line: the latest one at or before its offset.
  while (restarts_.size() > 1 && restarts_[1].decompressed <= position_.offset)
    restarts_.pop_front();
  position_.restart = compression_ == Compression::none
                          ? RestartPoint{position_.offset, position_.offset}
                          : restarts_.front();
  if (buffer_pos_ > kChunkBytes * 4) {  // keep the buffer small
    buffer_.erase(0, buffer_pos_);
    buffer_offset_ += buffer_pos_;
    buffer_pos_ = 0;
  }
  return overlong ? LineStatus::overlong : LineStatus::ok;
}

}  // namespace smx
