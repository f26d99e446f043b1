#include "smx/data/segment_packing.h"

namespace smx {
namespace {

void append_lines(std::vector<int32_t>& out, const std::vector<std::vector<int32_t>>& lines,
                  std::size_t begin, std::size_t end) {
  for (std::size_t i = begin; i < end; ++i) out.insert(out.end(), lines[i].begin(), lines[i].end());
}

}  // namespace

std::vector<PackedExample> pack_document(const std::vector<std::vector<int32_t>>& lines,
                                         int64_t max_seq_len, int32_t cls_id, int32_t sep_id,
                                         Rng& rng) {
  const auto budget = static_cast<std::size_t>(max_seq_len - 3);
  std::vector<PackedExample> examples;
  std::size_t j = 0;
  while (j + 1 < lines.size()) {
    std::size_t total = lines[j].size() + lines[j + 1].size();
    if (total > budget) {
      ++j;
      continue;
    }
    std::size_t k = j + 1;  // last line taken
    while (k + 1 < lines.size() && total + lines[k + 1].size() <= budget)
      total += lines[++k].size();

    const std::size_t pivot =
        j + 1 + rng.uniform(k - j);  // first line of B; U{1..#lines-1} after j
    const bool in_order = rng.uniform01() < 0.5;
    PackedExample ex;
    ex.tokens.reserve(total + 3);
    ex.tokens.push_back(cls_id);
    if (in_order) {
      append_lines(ex.tokens, lines, j, pivot);
    } else {
      append_lines(ex.tokens, lines, pivot, k + 1);
    }
    ex.tokens.push_back(sep_id);
    ex.first_length = static_cast<int32_t>(ex.tokens.size());
    if (in_order) {
      append_lines(ex.tokens, lines, pivot, k + 1);
    } else {
      append_lines(ex.tokens, lines, j, pivot);
    }
    ex.tokens.push_back(sep_id);
    ex.nsp_label = in_order ? 1 : 0;
    examples.push_back(std::move(ex));
    j = k + 1;
  }
  return examples;
}

}  // namespace smx
