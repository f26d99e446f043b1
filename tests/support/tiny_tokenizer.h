// A small BPE tokenizer trained once per test process, and corpus text it encodes without <unk>.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "smx/tokenizer/tokenizer.h"

namespace smx::testing {

// Trained on sample_sentences() and "line L of doc D" lines; special ids as Tokenizer::kTrained*.
std::shared_ptr<const Tokenizer> tiny_tokenizer();

// Corpus text: `docs` documents separated by blank lines; document d has 2 + (d % lines_mod) lines,
// line l reading "line <l> of doc <d>" so tests can tell which lines a segment holds and in which
// order.
std::string numbered_corpus(int docs, int lines_mod = 4);

}  // namespace smx::testing
