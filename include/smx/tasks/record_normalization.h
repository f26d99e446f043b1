// ReCoRD / SQuAD answer comparison, as the official ReCoRD evaluation script: lower case, drop
// ASCII punctuation, drop the articles a/an/the, collapse whitespace; then exact match and
// bag-of-tokens F1, each the max over the gold answers.
// Differences from Python: lower-casing and whitespace are ASCII-only, and every non-ASCII byte
// counts as a word character for the article rule.
#pragma once

#include <string>
#include <vector>

namespace smx::tasks {

std::string normalize_answer(const std::string& text);

// 1 if the normalised strings are equal, else 0.
double answer_exact_match(const std::string& prediction, const std::string& gold);

// Token F1 of the normalised strings (multiset overlap); 0 when nothing overlaps.
double answer_token_f1(const std::string& prediction, const std::string& gold);

// Max of answer_exact_match / answer_token_f1 over `golds` (0 when golds is empty).
double max_exact_match(const std::string& prediction, const std::vector<std::string>& golds);
double max_token_f1(const std::string& prediction, const std::vector<std::string>& golds);

}  // namespace smx::tasks
