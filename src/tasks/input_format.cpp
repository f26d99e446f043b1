#include "smx/tasks/input_format.h"

#include "smx/core/error.h"

namespace smx::tasks {

EncodedInput encode_segments(const std::vector<std::string>& segments,
                             const std::function<std::vector<int32_t>(const std::string&)>& encode,
                             int64_t cls_id, int64_t sep_id, int64_t max_len) {
  if (segments.empty() || segments.size() > 3)
    fail("encode_segments got {} segments; 1 to 3 fit type_vocab_size 4 (docs/design.md §4.4)",
         segments.size());
  if (max_len < 1) fail("encode_segments: max_len is {}, it must be at least 1", max_len);
  const auto limit = static_cast<size_t>(max_len);
  EncodedInput out;
  out.input_ids.push_back(cls_id);
  out.type_ids.push_back(0);
  for (size_t k = 0; k < segments.size() && out.input_ids.size() < limit; ++k) {
    for (const int32_t id : encode(segments[k])) {
      out.input_ids.push_back(id);
      out.type_ids.push_back(static_cast<int64_t>(k));
    }
    out.input_ids.push_back(sep_id);
    out.type_ids.push_back(static_cast<int64_t>(k));
  }
  if (out.input_ids.size() > limit) {  // hard cut, as the reference
    out.input_ids.resize(limit);
    out.type_ids.resize(limit);
  }
  return out;
}

}  // namespace smx::tasks
