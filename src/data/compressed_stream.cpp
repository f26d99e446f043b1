#include "smx/data/compressed_stream.h"

#include <cerrno>
#include <cstring>

#include <zlib.h>
#include <zstd.h>

#include "smx/core/error.h"

namespace smx {
namespace {

constexpr std::size_t kInputBytes = 256 * 1024;

bool ends_with(const std::string& s, const char* suffix) {
  const std::size_t n = std::strlen(suffix);
  return s.size() >= n && s.compare(s.size() - n, n, suffix) == 0;
}

}  // namespace

std::string to_string(Compression compression) {
  switch (compression) {
    case Compression::gzip:
      return "gzip";
    case Compression::zstd:
      return "zstd";
    default:
      return "none";
  }
}

Compression detect_compression(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) fail("corpus shard {} cannot be opened ({})", path, std::strerror(errno));
  unsigned char head[6] = {0, 0, 0, 0, 0, 0};
  const std::size_t n = std::fread(head, 1, sizeof head, f);
  std::fclose(f);
  auto starts = [&](std::initializer_list<unsigned char> magic) {
    if (n < magic.size()) return false;
    std::size_t i = 0;
    for (const unsigned char c : magic)
      if (head[i++] != c) return false;
    return true;
  };
  if (starts({'B', 'Z', 'h'}) || starts({0xFD, '7', 'z', 'X', 'Z', 0x00})) {
    fail(
        "corpus shard {} is bzip2 or xz compressed, which smx does not read; recompress it with "
        "gzip or zstd (e.g. bzcat {} | zstd -o NAME.zst)",
        path, path);
  }
  Compression found = Compression::none;
  if (starts({0x1F, 0x8B})) found = Compression::gzip;
  if (starts({0x28, 0xB5, 0x2F, 0xFD})) found = Compression::zstd;
  const Compression named = ends_with(path, ".gz") || ends_with(path, ".gzip") ? Compression::gzip
                            : ends_with(path, ".zst") || ends_with(path, ".zstd")
                                ? Compression::zstd
                                : found;
  if (named != found) {
    fail(
        "corpus shard {}: its name says {} but its first bytes say {}; the file is damaged or "
        "misnamed",
        path, to_string(named), found == Compression::none ? "uncompressed" : to_string(found));
  }
  return found;
}

// The zlib or zstd decoder state.
struct CompressedStream::Decoder {
  z_stream z{};
  bool z_ready = false;
  ZSTD_DStream* zstd = nullptr;
  ~Decoder() {
    if (z_ready) inflateEnd(&z);
    if (zstd) ZSTD_freeDStream(zstd);
  }
};

CompressedStream::CompressedStream(const std::string& path, Compression compression,
                                   RestartPoint from)
    : path_(path),
      compression_(compression),
      input_(kInputBytes),
      decompressed_(from.decompressed),
      restart_(from),
      decoder_(std::make_unique<Decoder>()) {
  file_ = std::fopen(path.c_str(), "rb");
  if (!file_) fail("cannot be opened ({})", std::strerror(errno));
  if (compression == Compression::none && from.compressed != from.decompressed) {
    fail("restart point {}/{} is not valid for an uncompressed file", from.compressed,
         from.decompressed);
  }
  if (fseeko(file_, static_cast<off_t>(from.compressed), SEEK_SET) != 0) {
    fail("cannot seek to byte {} ({})", from.compressed, std::strerror(errno));
  }
  input_file_offset_ = from.compressed;
  if (compression == Compression::gzip) {
    // 15 + 32: a 32 KiB window, gzip or zlib header detected automatically.
    if (inflateInit2(&decoder_->z, 15 + 32) != Z_OK) fail("zlib cannot be initialised");
    decoder_->z_ready = true;
  } else if (compression == Compression::zstd) {
    decoder_->zstd = ZSTD_createDStream();
    if (!decoder_->zstd) fail("libzstd cannot be initialised");
  }
}

CompressedStream::~CompressedStream() {
  if (file_) std::fclose(file_);
}

bool CompressedStream::fill_input() {
  if (eof_) return false;
  input_file_offset_ += input_len_;
  input_pos_ = 0;
  input_len_ = std::fread(input_.data(), 1, input_.size(), file_);
  if (input_len_ == 0) {
    if (std::ferror(file_)) fail("read error ({})", std::strerror(errno));
    eof_ = true;
    return false;
  }
  return true;
}

RestartPoint CompressedStream::last_restart_point() const {
  if (compression_ == Compression::none) return {decompressed_, decompressed_};
  return restart_;
}

std::size_t CompressedStream::read(char* out, std::size_t capacity) {
  if (capacity == 0) return 0;
  if (compression_ == Compression::none) {
    const std::size_t n = std::fread(out, 1, capacity, file_);
    if (n == 0 && std::ferror(file_)) fail("read error ({})", std::strerror(errno));
    decompressed_ += n;
    return n;
  }
  const char* kind = compression_ == Compression::gzip ? "gzip" : "zstd";
  for (;;) {
    if (input_pos_ == input_len_ && !fill_input()) {
      if (frame_open_) {
        fail("truncated {} data: the file ends inside a compressed {}", kind,
             compression_ == Compression::gzip ? "member" : "frame");
      }
      return 0;
    }
    if (!frame_open_) {  // a new member / frame starts here: a restart point
      restart_ = {input_file_offset_ + input_pos_, decompressed_};
      if (compression_ == Compression::gzip) {
        inflateReset(&decoder_->z);
      } else {
        ZSTD_DCtx_reset(decoder_->zstd, ZSTD_reset_session_only);
      }
      frame_open_ = true;
    }
    const std::size_t available = input_len_ - input_pos_;
    std::size_t consumed = 0, produced = 0;
    if (compression_ == Compression::gzip) {
      z_stream& z = decoder_->z;
      z.next_in = reinterpret_cast<Bytef*>(input_.data() + input_pos_);
      z.avail_in = static_cast<uInt>(available);
      z.next_out = reinterpret_cast<Bytef*>(out);
      z.avail_out = static_cast<uInt>(std::min<std::size_t>(capacity, 1u << 30));
      const uInt out_before = z.avail_out;
      const int rc = inflate(&z, Z_NO_FLUSH);
      consumed = available - z.avail_in;
      produced = out_before - z.avail_out;
      if (rc == Z_STREAM_END) {
        frame_open_ = false;
      } else if (rc != Z_OK && rc != Z_BUF_ERROR) {
        fail("corrupt gzip data ({}) near compressed byte {}", z.msg ? z.msg : zError(rc),
             input_file_offset_ + input_pos_ + consumed);
      }
    } else {
      ZSTD_inBuffer in{input_.data() + input_pos_, available, 0};
      ZSTD_outBuffer o{out, capacity, 0};
      const std::size_t rc = ZSTD_decompressStream(decoder_->zstd, &o, &in);
      if (ZSTD_isError(rc)) {
        fail("corrupt zstd data ({}) near compressed byte {}", ZSTD_getErrorName(rc),
             input_file_offset_ + input_pos_ + in.pos);
      }
      consumed = in.pos;
      produced = o.pos;
      if (rc == 0) frame_open_ = false;  // frame decoded and flushed
    }
    input_pos_ += consumed;
    decompressed_ += produced;
    if (produced > 0) return produced;
    if (consumed == 0 && frame_open_ && input_pos_ < input_len_) {
      fail("corrupt {} data: the decoder makes no progress at compressed byte {}", kind,
           input_file_offset_ + input_pos_);
    }
  }
}

}  // namespace smx
