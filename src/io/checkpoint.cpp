#include "smx/io/checkpoint.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include <fcntl.h>
#include <unistd.h>

#include "smx/core/error.h"
#include "smx/io/text_file.h"

namespace smx::io {
namespace fs = std::filesystem;

namespace {

std::string step_name(int64_t step) {
  char name[32];
  std::snprintf(name, sizeof(name), "step-%08lld", static_cast<long long>(step));
  return name;
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
    // Complete = renamed into place ("step-N", not hidden) with its last file present.
    if (name.rfind("step-", 0) != 0 || !fs::exists(entry.path() / "trainer.json")) continue;
    char* end = nullptr;
    const long long step = std::strtoll(name.c_str() + 5, &end, 10);
    if (end != nullptr && *end == '\0') out.emplace_back(step, entry.path().string());
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
  write_file_atomically(tmp_dir + "/trainer.json", c.trainer.dump(2));  // last: marks completeness
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

CheckpointContents CheckpointManager::load(const std::string& folder) {
  CheckpointContents c;
  c.optimizer = read_safetensors(folder + "/optimizer.safetensors").tensors;
  c.trainer = nlohmann::json::parse(read_text_file(folder + "/trainer.json"), nullptr, false);
  if (c.trainer.is_discarded() || !c.trainer.contains("step"))
    fail("checkpoint '{}' has a corrupt trainer.json", folder);
  c.step = c.trainer["step"].get<int64_t>();
  c.data_state = read_text_file(folder + "/data.json");
  return c;
}

}  // namespace smx::io
