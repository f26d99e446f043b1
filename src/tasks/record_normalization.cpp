#include "smx/tasks/record_normalization.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <sstream>

namespace smx::tasks {
namespace {

bool is_word_char(unsigned char c) {
  return std::isalnum(c) || c == '_' || c >= 0x80;
}

std::vector<std::string> tokens(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(normalize_answer(text));
  for (std::string t; in >> t;) out.push_back(t);
  return out;
}

}  // namespace

std::string normalize_answer(const std::string& text) {
  // lower, then remove punctuation (Python's string.punctuation is ASCII ispunct).
  std::string s;
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if (c < 0x80 && std::ispunct(c)) continue;
    s += c < 0x80 ? static_cast<char>(std::tolower(c)) : ch;
  }
  // re.sub(r"\b(a|an|the)\b", " ", s): whole words only.
  std::string no_articles;
  for (size_t i = 0; i < s.size();) {
    if (!is_word_char(static_cast<unsigned char>(s[i]))) {
      no_articles += s[i++];
      continue;
    }
    size_t j = i;
    while (j < s.size() && is_word_char(static_cast<unsigned char>(s[j]))) ++j;
    const std::string word = s.substr(i, j - i);
    no_articles += (word == "a" || word == "an" || word == "the") ? std::string(" ") : word;
    i = j;
  }
  // " ".join(s.split())
  std::istringstream in(no_articles);
  std::string out;
  for (std::string t; in >> t;) out += (out.empty() ? "" : " ") + t;
  return out;
}

double answer_exact_match(const std::string& prediction, const std::string& gold) {
  return normalize_answer(prediction) == normalize_answer(gold) ? 1.0 : 0.0;
}

double answer_token_f1(const std::string& prediction, const std::string& gold) {
  const std::vector<std::string> p = tokens(prediction), g = tokens(gold);
  std::map<std::string, int64_t> counts;
  for (const std::string& t : g) ++counts[t];
  int64_t same = 0;
  for (const std::string& t : p) {
    auto it = counts.find(t);
    if (it != counts.end() && it->second > 0) {
      --it->second;
      ++same;
    }
  }
  if (same == 0) return 0.0;
  const double precision = static_cast<double>(same) / static_cast<double>(p.size());
  const double recall = static_cast<double>(same) / static_cast<double>(g.size());
  return 2 * precision * recall / (precision + recall);
}

double max_exact_match(const std::string& prediction, const std::vector<std::string>& golds) {
  double best = 0;
  for (const std::string& g : golds) best = std::max(best, answer_exact_match(prediction, g));
  return best;
}

double max_token_f1(const std::string& prediction, const std::vector<std::string>& golds) {
  double best = 0;
  for (const std::string& g : golds) best = std::max(best, answer_token_f1(prediction, g));
  return best;
}

}  // namespace smx::tasks
