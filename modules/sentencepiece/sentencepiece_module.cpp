// smx_sentencepiece: the only code that links SentencePiece; see
// src/tokenizer/sentencepiece_backend.h for why it is a separately loaded module.
#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>

#include "tokenizer/sentencepiece_backend.h"

namespace {

std::string message(const sentencepiece::util::Status& status) {
  return status.ok() ? std::string() : status.ToString();
}

class Backend final : public smx::detail::SentencePieceBackend {
 public:
  std::string load(const std::string& path) override { return message(sp_.Load(path)); }

  std::string train(const std::unordered_map<std::string, std::string>& kwargs, uint32_t seed,
                    std::string* serialized_model) override {
    sentencepiece::SetRandomGeneratorSeed(seed);
    return message(sentencepiece::SentencePieceTrainer::Train(kwargs, nullptr, serialized_model));
  }

  std::string encode(std::string_view text, std::vector<int>* ids) const override {
    return message(sp_.Encode({text.data(), text.size()}, ids));
  }
  std::string encode_pieces(std::string_view text,
                            std::vector<std::string>* pieces) const override {
    return message(sp_.Encode({text.data(), text.size()}, pieces));
  }
  std::string decode(const std::vector<int>& ids, std::string* text) const override {
    return message(sp_.Decode(ids, text));
  }

  int piece_size() const override { return sp_.GetPieceSize(); }
  int piece_to_id(const std::string& piece) const override { return sp_.PieceToId(piece); }
  std::string id_to_piece(int id) const override { return sp_.IdToPiece(id); }
  int pad_id() const override { return sp_.pad_id(); }
  int unk_id() const override { return sp_.unk_id(); }
  int bos_id() const override { return sp_.bos_id(); }
  int eos_id() const override { return sp_.eos_id(); }

 private:
  sentencepiece::SentencePieceProcessor sp_;
};

}  // namespace

extern "C" __attribute__((visibility("default"))) smx::detail::SentencePieceBackend*
smx_create_sentencepiece_backend() {
  return new Backend();
}
