#include "smx/import/checkpoint_files.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "smx/core/error.h"

namespace smx::importer {
namespace {

namespace fs = std::filesystem;

// The largest file read into memory (the biggest released file, BERT Base with its optimizer
// moments, is about 1.3 GB).
constexpr uint64_t kMaxFileBytes = uint64_t{64} << 30;

// Digits only, at most 18 of them (fits int64); -1 otherwise.
int64_t parse_number(const std::string& text) {
  if (text.empty() || text.size() > 18) return -1;
  int64_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return -1;
    v = v * 10 + (c - '0');
  }
  return v;
}

std::string base_name(const std::string& path) {
  const auto slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::string list_of(const std::vector<std::string>& names) {
  std::string out;
  for (size_t i = 0; i < names.size() && i < 8; ++i) out += (i ? ", " : "") + names[i];
  if (names.size() > 8) out += fmt::format(" and {} more", names.size() - 8);
  return out.empty() ? "nothing" : out;
}

}  // namespace

bool parse_checkpoint_name(const std::string& name, CheckpointFile& file) {
  static const std::string replicated = "replicated_checkpoint_";
  if (name.rfind(replicated, 0) == 0) {
    const int64_t step = parse_number(name.substr(replicated.size()));
    if (step < 0) return false;
    file.name = name;
    file.step = step;
    file.shard = -1;
    file.shard_count = 0;
    return true;
  }
  // shard-PPPPP-of-QQQQQ_checkpoint_STEP
  if (name.rfind("shard-", 0) != 0) return false;
  const auto of = name.find("-of-", 6);
  const auto ck = name.find("_checkpoint_", of == std::string::npos ? 0 : of);
  if (of == std::string::npos || ck == std::string::npos) return false;
  const int64_t p = parse_number(name.substr(6, of - 6));
  const int64_t n = parse_number(name.substr(of + 4, ck - of - 4));
  const int64_t step = parse_number(name.substr(ck + 12));
  if (p < 0 || n <= 0 || p >= n || step < 0 || of - 6 < 5 || ck - of - 4 < 5) return false;
  file.name = name;
  file.step = step;
  file.shard = p;
  file.shard_count = n;
  return true;
}

CheckpointFiles::CheckpointFiles(const std::string& source) : source_(source) {
  std::error_code ec;
  if (!fs::exists(source, ec))
    fail(
        "{}: no such file or folder; pass a release zip, the folder it unpacks to, or a "
        "replicated_checkpoint_<step> file",
        source);
  std::vector<CheckpointFile> found;
  std::vector<std::string> others;
  auto consider = [&](const std::string& name, const std::string& location, uint64_t size) {
    CheckpointFile f;
    if (parse_checkpoint_name(name, f)) {
      f.location = location;
      f.size = size;
      found.push_back(f);
    } else {
      others.push_back(location);
    }
  };
  const fs::path path(source);
  const fs::path absolute = fs::absolute(path).lexically_normal();
  // The first label names the model: the folder, the zip without ".zip", a file's folder.
  if (fs::is_directory(path))
    labels_.push_back(absolute.filename().string());
  else if (looks_like_zip(source))
    labels_.push_back(absolute.stem().string());
  else
    labels_.push_back(absolute.parent_path().filename().string());
  labels_.push_back(absolute.filename().string());
  if (fs::is_directory(path)) {
    auto scan = [&](const fs::path& dir) {
      for (const auto& e : fs::directory_iterator(dir, ec))
        if (e.is_regular_file(ec))
          consider(e.path().filename().string(), e.path().string(), e.file_size(ec));
    };
    scan(path);
    if (found.empty())  // the folder above an unpacked release: look one level down
      for (const auto& e : fs::directory_iterator(path, ec))
        if (e.is_directory(ec)) scan(e.path());
  } else if (looks_like_zip(source)) {
    zip_ = std::make_unique<ZipArchive>(source);
    for (const auto& e : zip_->entries()) {
      consider(base_name(e.name), source + ":" + e.name, e.size);
      const auto slash = e.name.find('/');
      if (slash != std::string::npos) labels_.push_back(e.name.substr(0, slash));
    }
  } else {
    // A single file: a replicated file uses its siblings' shards of the same step; any other name
    // is taken as a replicated file (its step comes from inside).
    CheckpointFile f;
    const std::string name = path.filename().string();
    if (!parse_checkpoint_name(name, f) || f.shard >= 0) {
      if (f.shard >= 0)
        fail(
            "{}: a shard file holds only its process's experts; pass the "
            "replicated_checkpoint_{} file (or the folder) instead",
            source, f.step);
      f = CheckpointFile{};
      f.name = name;
    }
    f.location = source;
    f.size = fs::file_size(path, ec);
    found.push_back(f);
    if (f.step >= 0)
      for (const auto& e : fs::directory_iterator(fs::absolute(path).parent_path(), ec)) {
        CheckpointFile s;
        if (e.is_regular_file(ec) && parse_checkpoint_name(e.path().filename().string(), s) &&
            s.shard >= 0) {
          s.location = e.path().string();
          s.size = e.file_size(ec);
          found.push_back(s);
        }
      }
  }

  const CheckpointFile* newest = nullptr;
  for (const auto& f : found)
    if (f.shard < 0) {
      if (newest != nullptr && f.step == newest->step)
        fail("{}: two replicated files of step {}: {} and {}; keep one", source, f.step,
             newest->location, f.location);
      if (newest == nullptr || f.step > newest->step) newest = &f;
    }
  if (newest == nullptr) {
    std::vector<std::string> shard_names;
    for (const auto& f : found) shard_names.push_back(f.location);
    fail(
        "{}: no replicated_checkpoint_<step> file found ({}{}); pass the release zip, the folder "
        "it unpacks to, or the checkpoint file",
        source, shard_names.empty() ? "found " + list_of(others) : "only shards: ",
        shard_names.empty() ? "" : list_of(shard_names));
  }
  replicated_ = *newest;

  std::map<int64_t, CheckpointFile> by_index;
  std::set<int64_t> counts, other_steps;
  for (const auto& f : found) {
    if (f.shard < 0) continue;
    if (f.step != replicated_.step) {
      other_steps.insert(f.step);
      continue;
    }
    counts.insert(f.shard_count);
    if (!by_index.emplace(f.shard, f).second)
      fail("{}: shard {} of step {} appears twice ({} and {})", source, f.shard, f.step,
           by_index[f.shard].location, f.location);
  }
  if (by_index.empty() && !other_steps.empty())
    fail(
        "{}: {} is of step {} but the shard files are of step {}: files from different "
        "checkpoints; put the shards saved with step {} beside it",
        source, replicated_.location, replicated_.step, *other_steps.begin(), replicated_.step);
  if (counts.size() > 1)
    fail(
        "{}: the step {} shards disagree on how many shards there are (-of-{} and -of-{}); the "
        "files come from different runs",
        source, replicated_.step, *counts.begin(), *counts.rbegin());
  if (!by_index.empty()) {
    const int64_t n = *counts.begin();
    for (int64_t p = 0; p < n; ++p)
      if (by_index.count(p) == 0)
        fail(
            "{}: missing shard file shard-{:05d}-of-{:05d}_checkpoint_{}{}; every process's "
            "shard is needed to rebuild the experts",
            source, p, n, replicated_.step,
            other_steps.empty()
                ? std::string()
                : fmt::format(" (shards of other steps are present: files from different "
                              "checkpoints, e.g. step {})",
                              *other_steps.begin()));
    for (auto& [p, f] : by_index) shards_.push_back(f);
  }
}

CheckpointFiles::~CheckpointFiles() = default;

std::shared_ptr<const std::string> CheckpointFiles::read(const CheckpointFile& file) const {
  if (zip_) {
    for (const auto& e : zip_->entries())
      if (source_ + ":" + e.name == file.location)
        return std::make_shared<const std::string>(zip_->read(e, kMaxFileBytes));
    fail("{}: entry vanished from the zip", file.location);
  }
  std::error_code ec;
  const uint64_t size = fs::file_size(file.location, ec);
  if (ec) fail("{}: cannot read ({})", file.location, ec.message());
  if (size > kMaxFileBytes)
    fail("{}: {} bytes is more than this import reads", file.location, size);
  std::ifstream in(file.location, std::ios::binary);
  auto bytes = std::make_shared<std::string>(size, '\0');
  if (!in.read(bytes->data(), static_cast<std::streamsize>(size)))
    fail("{}: cannot read the whole file", file.location);
  return bytes;
}

}  // namespace smx::importer
