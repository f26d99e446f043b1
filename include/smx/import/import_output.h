// ImportOutput: the folder an importer writes. --out must not exist or be an empty folder; the
// model folder is built beside it under a temporary name and renamed into place only when complete,
// so an import that fails anywhere leaves nothing behind.
#pragma once

#include <filesystem>
#include <functional>
#include <string>

namespace smx::importer {

class ImportOutput {
 public:
  // Fails ("`command`: --out DIR is required", or "already exists") before anything is read.
  ImportOutput(const std::string& out_dir, const std::string& command);

  const std::filesystem::path& path() const { return out_; }  // absolute, normalised

  // Runs `fill` on an empty temporary folder beside path(), then renames it to path() (checked
  // free again first). On any error the temporary folder is removed and the error rethrown.
  void build(const std::function<void(const std::filesystem::path& folder)>& fill) const;

 private:
  void check_free() const;
  std::filesystem::path out_;
};

}  // namespace smx::importer
