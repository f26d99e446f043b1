// The narrow interface through which the Tokenizer reaches SentencePiece.
//
// Why not call SentencePiece directly: Debian's libsentencepiece bundles its own protobuf-lite and
// exports its symbols; in a process that also loads LibTorch's libprotobuf the two copies interpose
// on each other and the process crashes before main(). So SentencePiece is only ever linked into
// the module smx_sentencepiece (modules/sentencepiece/), which libsmx loads with dlopen(RTLD_LOCAL
// | RTLD_DEEPBIND): the module and its copy of protobuf resolve their own symbols first and never
// enter the global scope. Only virtual calls and standard-library types cross the boundary, so no
// symbol lookup is needed.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace smx::detail {

class SentencePieceBackend {
 public:
  virtual ~SentencePieceBackend() = default;

  // Each call returns "" on success, otherwise SentencePiece's status message.
  virtual std::string load(const std::string& path) = 0;
  virtual std::string train(const std::unordered_map<std::string, std::string>& kwargs,
                            uint32_t seed, std::string* serialized_model) = 0;
  virtual std::string encode(std::string_view text, std::vector<int>* ids) const = 0;
  virtual std::string encode_pieces(std::string_view text,
                                    std::vector<std::string>* pieces) const = 0;
  virtual std::string decode(const std::vector<int>& ids, std::string* text) const = 0;

  virtual int piece_size() const = 0;
  virtual int piece_to_id(const std::string& piece) const = 0;
  virtual std::string id_to_piece(int id) const = 0;
  virtual int pad_id() const = 0;
  virtual int unk_id() const = 0;
  virtual int bos_id() const = 0;
  virtual int eos_id() const = 0;
};

// The module's one exported symbol: returns a new backend the caller owns.
using CreateSentencePieceBackend = SentencePieceBackend* (*)();
inline constexpr const char* kCreateSentencePieceBackendSymbol = "smx_create_sentencepiece_backend";

// Loads the module once per process (see src/tokenizer/sentencepiece_loader.cpp for the search
// order) and creates a backend. Throws smx::Error if the module cannot be found or loaded.
std::unique_ptr<SentencePieceBackend> make_sentencepiece_backend();

}  // namespace smx::detail
