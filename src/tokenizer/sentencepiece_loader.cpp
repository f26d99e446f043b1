#include <dlfcn.h>

#include <cstdlib>
#include <filesystem>
#include <mutex>

#include "smx/core/error.h"
#include "tokenizer/sentencepiece_backend.h"

namespace smx::detail {
namespace {

constexpr const char* kModuleFileName = "libsmx_sentencepiece.so";

// Search order: $SMX_SENTENCEPIECE_MODULE, the path the build wrote
// (SMX_SENTENCEPIECE_MODULE_PATH), then the running executable's directory.
std::vector<std::string> candidate_paths() {
  std::vector<std::string> paths;
  if (const char* env = std::getenv("SMX_SENTENCEPIECE_MODULE"); env && *env) {
    return {env};  // an explicit choice is never second-guessed
  }
#ifdef SMX_SENTENCEPIECE_MODULE_PATH
  paths.emplace_back(SMX_SENTENCEPIECE_MODULE_PATH);
#endif
  std::error_code ec;
  const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) paths.push_back((exe.parent_path() / kModuleFileName).string());
  return paths;
}

CreateSentencePieceBackend load_module() {
  std::string errors;
  for (const auto& path : candidate_paths()) {
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) {
      errors += fmt::format("\n  {}: not found", path);
      continue;
    }
    // Never closed: the backends it creates may live until exit.
    void* handle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND);
    if (!handle) {
      errors += fmt::format("\n  {}: {}", path, ::dlerror());
      continue;
    }
    void* symbol = ::dlsym(handle, kCreateSentencePieceBackendSymbol);
    if (!symbol) {
      errors += fmt::format("\n  {}: no symbol {}", path, kCreateSentencePieceBackendSymbol);
      continue;
    }
    return reinterpret_cast<CreateSentencePieceBackend>(symbol);
  }
  fail(
      "cannot load the SentencePiece module {} that the tokenizer needs; build the target "
      "smx_sentencepiece, or set SMX_SENTENCEPIECE_MODULE to its path. Tried:{}",
      kModuleFileName, errors);
}

}  // namespace

std::unique_ptr<SentencePieceBackend> make_sentencepiece_backend() {
  static std::once_flag once;
  static CreateSentencePieceBackend create = nullptr;
  static std::string load_error;
  std::call_once(once, [] {
    try {
      create = load_module();
    } catch (const Error& e) {
      load_error = e.what();
    }
  });
  if (!create) throw Error(load_error);
  return std::unique_ptr<SentencePieceBackend>(create());
}

}  // namespace smx::detail
