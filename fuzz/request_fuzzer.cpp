// libFuzzer target for the HTTP request parsing (src/serve/request.cpp): any bytes must give
// either inputs or a 4xx with a message, never a crash, hang, leak or exception.
// Built by `make fuzz` (clang -fsanitize=fuzzer,address,undefined); not part of CI.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "smx/serve/request.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  smx::serve::Limits limits;
  limits.max_body_bytes = 1 << 16;
  limits.max_inputs = 16;
  limits.max_text_bytes = 1 << 12;
  for (const bool classify : {false, true}) {
    const auto r = classify ? smx::serve::parse_classify_request(body, limits)
                            : smx::serve::parse_embed_request(body, limits);
    if (r.ok()) {
      if (r.inputs.empty() || r.inputs.size() > limits.max_inputs) std::abort();
      for (const auto& input : r.inputs)
        if (input.text.empty() || input.text.size() > limits.max_text_bytes) std::abort();
    } else if (r.status < 400 || r.status >= 500 || r.error.empty() || !r.inputs.empty()) {
      std::abort();
    }
  }
  return 0;
}
