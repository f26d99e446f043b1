// Read-only access to a zip file (the Sparse Mixers releases are zips of checkpoint files),
// through libzip. Sizes in the zip's directory are not trusted: an entry is read in pieces, never
// past `max_bytes`, and must yield exactly the size its directory entry declares.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace smx::importer {

struct ZipEntry {
  std::string name;   // path inside the zip, e.g. "sm_base/replicated_checkpoint_1000000"
  uint64_t size = 0;  // uncompressed size as declared by the zip (checked when read)
  uint64_t index = 0;
};

class ZipArchive {
 public:
  // Throws smx::Error naming `path` when it cannot be opened as a zip.
  explicit ZipArchive(const std::string& path);
  ~ZipArchive();
  ZipArchive(const ZipArchive&) = delete;
  ZipArchive& operator=(const ZipArchive&) = delete;

  const std::string& path() const { return path_; }
  // Files only (directory entries are skipped), in the zip's order.
  const std::vector<ZipEntry>& entries() const { return entries_; }
  // The entry's uncompressed bytes; fails naming the zip and entry if it is damaged, shorter or
  // longer than declared, or larger than `max_bytes`.
  std::string read(const ZipEntry& entry, uint64_t max_bytes) const;

 private:
  std::string path_;
  struct Handle;
  std::unique_ptr<Handle> zip_;
  std::vector<ZipEntry> entries_;
};

// Whether the file starts like a zip ("PK\3\4", or "PK\5\6" for an empty one).
bool looks_like_zip(const std::string& path);

}  // namespace smx::importer
