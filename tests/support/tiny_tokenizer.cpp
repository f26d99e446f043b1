#include "support/tiny_tokenizer.h"

#include "support/scratch_dir.h"

namespace smx::testing {

std::string numbered_corpus(int docs, int lines_mod) {
  std::string text;
  for (int d = 0; d < docs; ++d) {
    if (d) text += "\n";
    for (int l = 0; l < 2 + d % lines_mod; ++l) {
      text += "line " + std::to_string(l) + " of doc " + std::to_string(d) + "\n";
    }
  }
  return text;
}

std::shared_ptr<const Tokenizer> tiny_tokenizer() {
  static const std::shared_ptr<const Tokenizer> tokenizer = [] {
    static ScratchDir dir;  // lives until exit: the model file stays readable
    std::string text = numbered_corpus(200);
    for (const auto& s : sample_sentences(300, 11)) text += s + "\n";
    TokenizerTrainOptions options;
    options.input_files = {dir.write("tiny.txt", text)};
    options.vocab_size = 150;
    options.model_type = "bpe";
    options.character_coverage = 1.0;
    options.output_path = (dir.path() / "tiny.model").string();
    Tokenizer::train(options);
    return std::make_shared<const Tokenizer>(Tokenizer::load(options.output_path));
  }();
  return tokenizer;
}

}  // namespace smx::testing
