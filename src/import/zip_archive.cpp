#include "smx/import/zip_archive.h"

#include <algorithm>
#include <fstream>

#include <zip.h>

#include "smx/core/error.h"

namespace smx::importer {

struct ZipArchive::Handle {
  zip_t* zip = nullptr;
  ~Handle() {
    if (zip != nullptr) zip_discard(zip);  // read-only: nothing to write back
  }
};

ZipArchive::ZipArchive(const std::string& path) : path_(path), zip_(std::make_unique<Handle>()) {
  int code = 0;
  zip_->zip = zip_open(path.c_str(), ZIP_RDONLY | ZIP_CHECKCONS, &code);
  if (zip_->zip == nullptr) {
    zip_error_t error;
    zip_error_init_with_code(&error, code);
    const std::string message = zip_error_strerror(&error);
    zip_error_fini(&error);
    fail("{}: cannot open as a zip ({}); download the release again", path, message);
  }
  const zip_int64_t count = zip_get_num_entries(zip_->zip, 0);
  for (zip_int64_t i = 0; i < count; ++i) {
    zip_stat_t st;
    zip_stat_init(&st);
    if (zip_stat_index(zip_->zip, static_cast<zip_uint64_t>(i), 0, &st) != 0 ||
        (st.valid & ZIP_STAT_NAME) == 0 || (st.valid & ZIP_STAT_SIZE) == 0)
      fail("{}: entry {} of the zip directory is unreadable; the zip is damaged", path, i);
    const std::string name = st.name;
    if (!name.empty() && name.back() == '/') continue;  // a folder
    entries_.push_back({name, st.size, static_cast<uint64_t>(i)});
  }
}

ZipArchive::~ZipArchive() = default;

std::string ZipArchive::read(const ZipEntry& entry, uint64_t max_bytes) const {
  const std::string where = path_ + ":" + entry.name;
  if (entry.size > max_bytes)
    fail("{}: declares {} bytes, more than the {} this import reads from one entry", where,
         entry.size, max_bytes);
  zip_file_t* file = zip_fopen_index(zip_->zip, entry.index, 0);
  if (file == nullptr)
    fail("{}: cannot open the entry ({}); the zip is damaged or uses an unsupported method", where,
         zip_strerror(zip_->zip));
  std::string bytes;
  // Grows with the data actually decompressed, never past the declared size.
  bytes.reserve(std::min<uint64_t>(entry.size, uint64_t{64} << 20));
  std::string piece(std::min<uint64_t>(std::max<uint64_t>(entry.size, 1), uint64_t{16} << 20),
                    '\0');
  for (;;) {
    const zip_int64_t n = zip_fread(file, piece.data(), piece.size());
    if (n < 0) {
      const std::string message = zip_file_strerror(file);
      zip_fclose(file);
      fail("{}: reading failed ({}); the zip is damaged", where, message);
    }
    if (n == 0) break;
    if (bytes.size() + static_cast<uint64_t>(n) > entry.size) {
      zip_fclose(file);
      fail("{}: holds more than the {} bytes its directory entry declares; the zip is damaged",
           where, entry.size);
    }
    bytes.append(piece.data(), static_cast<size_t>(n));
  }
  const int closed = zip_fclose(file);  // checks the CRC
  if (closed != 0 || bytes.size() != entry.size)
    fail("{}: {} of {} declared bytes, {}; the zip is damaged or truncated", where, bytes.size(),
         entry.size, closed != 0 ? "CRC mismatch" : "size mismatch");
  return bytes;
}

bool looks_like_zip(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char magic[4] = {};
  if (!in.read(magic, 4)) return false;
  return magic[0] == 'P' && magic[1] == 'K' &&
         ((magic[2] == 3 && magic[3] == 4) || (magic[2] == 5 && magic[3] == 6));
}

}  // namespace smx::importer
