// Fine-tuning input layout (docs/design.md §4.4): [CLS] s0 [SEP] s1 [SEP] (s2 [SEP]), type ids 0
// for CLS and k for segment k and its SEP, hard-truncated at max_len (the final SEP can be lost).
// No padding: the batcher pads.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace smx::tasks {

struct EncodedInput {
  std::vector<int64_t> input_ids;  // [n], n <= max_len
  std::vector<int64_t> type_ids;   // [n]
};

// `segments`: 1 to 3 texts in model order; `encode`: text -> token ids (the tokenizer).
// Segments past max_len are not tokenized.
EncodedInput encode_segments(const std::vector<std::string>& segments,
                             const std::function<std::vector<int32_t>(const std::string&)>& encode,
                             int64_t cls_id, int64_t sep_id, int64_t max_len);

}  // namespace smx::tasks
