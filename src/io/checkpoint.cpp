#include "smx/io/checkpoint.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>

#include "smx/core/error.h"
#include "smx/core/json.h"
#include "smx/io/text_file.h"

namespace smx::io {
namespace fs = std::filesystem;

namespace {

constexpr const char* kManifest = "manifest.json";
const char* const kCheckpointFiles[] = {"model.safetensors", "optimizer.safetensors", "data.json",
                                        "trainer.json"};

std::string step_name(int64_t step) {
  char name[32];
  std::snprintf(name, sizeof(name), "step-%08lld", static_cast<long long>(step));
  return name;
}

// The step a folder's name "step-N" gives, or -1.
int64_t step_of_folder(const std::string& folder) {
  const std::string name = fs::path(folder).filename().string();
  if (name.rfind("step-", 0) != 0 || name.size() == 5) return -1;
  char* end = nullptr;
  const long long step = std::strtoll(name.c_str() + 5, &end, 10);
  return end != nullptr && *end == '\0' && step >= 0 ? step : -1;
}

struct FileDigest {
  uint64_t bytes = 0;
  uint32_t crc32 = 0;
};

// Streams the file through zlib's CRC-32 (several GB/s): a Base model's checkpoint costs about a
// second on save and on resume.
FileDigest digest(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("cannot open '{}': {}", path, std::strerror(errno));
  std::vector<char> buffer(1 << 20);
  FileDigest d;
  uLong crc = ::crc32(0L, Z_NULL, 0);
  while (in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    const auto n = static_cast<uInt>(in.gcount());
    crc = ::crc32(crc, reinterpret_cast<const Bytef*>(buffer.data()), n);
    d.bytes += n;
  }
  if (in.bad()) fail("reading '{}' failed: {}", path, std::strerror(errno));
  d.crc32 = static_cast<uint32_t>(crc);
  return d;
}

std::string hex32(uint32_t v) {
  return fmt::format("{:08x}", v);
}

// trainer.json must be an object whose "step" is a non-negative integer equal to the step of the
// folder's name: an edited or corrupt step would otherwise restart the schedule anywhere, or skip
// training and overwrite the run's model.
std::string trainer_problem(const nlohmann::json& trainer, const std::string& folder) {
  if (!trainer.is_object()) return "trainer.json is not a JSON object";
  if (!trainer.contains("step") || !trainer["step"].is_number_integer())
    return "trainer.json has no integer \"step\"";
  const int64_t step = trainer["step"].get<int64_t>();
  const int64_t named = step_of_folder(folder);
  if (step != named)
    return fmt::format("trainer.json says step {} but the folder is step {}", step, named);
  if (trainer.contains("elapsed_s") &&
      (!trainer["elapsed_s"].is_number() || !(trainer["elapsed_s"].get<double>() >= 0)))
    return "trainer.json has a bad \"elapsed_s\"";
  return "";
}

}  // namespace

CheckpointManager::CheckpointManager(std::string run_dir, int64_t keep_last)
    : directory_((fs::path(run_dir) / "checkpoints").string()),
      keep_last_(std::max<int64_t>(1, keep_last)) {
  std::error_code ec;
  fs::create_directories(directory_, ec);
  if (ec) fail("cannot create checkpoint folder '{}': {}", directory_, ec.message());
  const std::string probe = directory_ + "/.write-test";
  if (!std::ofstream(probe)) fail("checkpoint folder '{}' is not writable", directory_);
  fs::remove(probe, ec);
}

std::vector<std::pair<int64_t, std::string>> CheckpointManager::complete() const {
  std::vector<std::pair<int64_t, std::string>> out;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(directory_, ec)) {
    const std::string name = entry.path().filename().string();
    // Complete = renamed into place ("step-N", not hidden or quarantined) with trainer.json.
    const int64_t step = step_of_folder(name);
    if (step >= 0 && fs::exists(entry.path() / "trainer.json"))
      out.emplace_back(step, entry.path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::optional<std::string> CheckpointManager::latest() const {
  const auto all = complete();
  if (all.empty()) return std::nullopt;
  return all.back().second;
}

std::string CheckpointManager::save(const CheckpointContents& c) {
  const std::string final_dir = directory_ + "/" + step_name(c.step);
  const std::string tmp_dir =
      directory_ + "/." + step_name(c.step) + ".tmp." + std::to_string(::getpid());
  std::error_code ec;
  fs::remove_all(tmp_dir, ec);
  fs::create_directories(tmp_dir, ec);
  if (ec) fail("cannot create '{}': {}", tmp_dir, ec.message());
  write_safetensors(tmp_dir + "/model.safetensors", c.weights, c.weights_metadata);
  write_safetensors(tmp_dir + "/optimizer.safetensors", c.optimizer);
  write_file_atomically(tmp_dir + "/data.json", c.data_state);
  write_file_atomically(tmp_dir + "/trainer.json", c.trainer.dump(2));
  nlohmann::json manifest = {{"step", c.step}, {"files", nlohmann::json::object()}};
  for (const char* name : kCheckpointFiles) {
    const FileDigest d = digest(tmp_dir + "/" + name);
    manifest["files"][name] = {{"bytes", d.bytes}, {"crc32", hex32(d.crc32)}};
  }
  write_file_atomically(tmp_dir + "/" + kManifest, manifest.dump(2) + "\n");
  fsync_path(tmp_dir, true);
  fs::remove_all(final_dir, ec);  // a checkpoint of the same step (e.g. after a resume) is replaced
  if (::rename(tmp_dir.c_str(), final_dir.c_str()) != 0)
    fail("cannot move checkpoint '{}' into place: {}", tmp_dir, std::strerror(errno));
  fsync_path(directory_, true);

  // Keep the newest K; drop leftovers of interrupted saves.
  auto all = complete();
  for (size_t i = 0; i + static_cast<size_t>(keep_last_) < all.size(); ++i)
    fs::remove_all(all[i].second, ec);
  for (const auto& entry : fs::directory_iterator(directory_, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind(".step-", 0) == 0) fs::remove_all(entry.path(), ec);
  }
  return final_dir;
}

std::optional<std::string> CheckpointManager::latest_intact(bool quarantine,
                                                            std::vector<std::string>* skipped) {
  const auto all = complete();
  for (auto it = all.rbegin(); it != all.rend(); ++it) {
    const std::string problem = verify(it->second);
    if (problem.empty()) return it->second;
    std::error_code ec = std::make_error_code(std::errc::operation_not_permitted);
    if (quarantine) fs::rename(it->second, it->second + ".corrupt", ec);  // kept for inspection
    if (skipped != nullptr)
      skipped->push_back(fmt::format("{}: {}{}", it->second, problem,
                                     ec ? "" : " (renamed to " + it->second + ".corrupt)"));
  }
  return std::nullopt;
}

std::string CheckpointManager::verify(const std::string& folder) {
  try {
    const std::string manifest_path = folder + "/" + kManifest;
    if (fs::exists(manifest_path)) {
      const auto manifest = parse_json(read_text_file(manifest_path), manifest_path);
      if (!manifest.is_object() || !manifest.contains("files") || !manifest["files"].is_object())
        return "manifest.json has no \"files\" object";
      for (const char* name : kCheckpointFiles) {
        const auto& files = manifest["files"];
        if (!files.contains(name) || !files[name].is_object())
          return fmt::format("manifest.json does not list {}", name);
        const auto& entry = files[name];
        if (!fs::exists(folder + "/" + name)) return fmt::format("{} is missing", name);
        const FileDigest d = digest(folder + "/" + name);
        if (entry.value("bytes", uint64_t{0}) != d.bytes)
          return fmt::format("{} has {} bytes, the manifest says {}", name, d.bytes,
                             entry.value("bytes", uint64_t{0}));
        if (entry.value("crc32", std::string()) != hex32(d.crc32))
          return fmt::format("{} fails its checksum (CRC-32 {}, the manifest says {})", name,
                             hex32(d.crc32), entry.value("crc32", std::string()));
      }
    }
    const std::string trainer_path = folder + "/trainer.json";
    return trainer_problem(parse_json(read_text_file(trainer_path), trainer_path), folder);
  } catch (const Error& e) {
    return e.what();
  }
}

CheckpointContents CheckpointManager::load(const std::string& folder) {
  CheckpointContents c;
  c.optimizer = read_safetensors(folder + "/optimizer.safetensors").tensors;
  const std::string trainer_path = folder + "/trainer.json";
  c.trainer = parse_json(read_text_file(trainer_path), trainer_path);
  if (const std::string problem = trainer_problem(c.trainer, folder); !problem.empty())
    fail("checkpoint '{}': {}; resume from another checkpoint", folder, problem);
  c.step = c.trainer["step"].get<int64_t>();
  c.data_state = read_text_file(folder + "/data.json");
  return c;
}

}  // namespace smx::io
