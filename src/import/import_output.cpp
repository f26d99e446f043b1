#include "smx/import/import_output.h"

#include <unistd.h>

#include "smx/core/error.h"

namespace smx::importer {

namespace fs = std::filesystem;

ImportOutput::ImportOutput(const std::string& out_dir, const std::string& command) {
  if (out_dir.empty()) fail("{}: --out DIR is required", command);
  out_ = fs::absolute(out_dir).lexically_normal();
  check_free();
}

void ImportOutput::check_free() const {
  std::error_code ec;
  if (fs::exists(out_, ec) && !(fs::is_directory(out_, ec) && fs::is_empty(out_, ec)))
    fail("--out {}: already exists; choose a new folder (nothing was written)", out_.string());
}

void ImportOutput::build(const std::function<void(const fs::path& folder)>& fill) const {
  const fs::path tmp =
      out_.parent_path() / (out_.filename().string() + ".import-tmp-" + std::to_string(::getpid()));
  std::error_code ec;
  try {
    fs::remove_all(tmp, ec);
    fill(tmp);
    check_free();
    if (fs::exists(out_, ec)) fs::remove(out_);  // the empty folder check_free allows
    fs::rename(tmp, out_);
  } catch (...) {
    fs::remove_all(tmp, ec);
    throw;
  }
}

}  // namespace smx::importer
