// libFuzzer target for everything the server parses from the network: request heads
// (src/serve/http.cpp) and the bodies of every route (src/serve/request.cpp for /v1/embed and
// /v1/classify, src/serve/api_requests.cpp for the OpenAI and TEI routes). Any bytes must give
// either a request within the limits or a 4xx with a message, never a crash, hang, leak or
// another exception. Built by `make fuzz` (clang -fsanitize=fuzzer,address,undefined); not in CI.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "smx/serve/api_requests.h"
#include "smx/serve/http.h"
#include "smx/serve/request.h"

namespace {

using namespace smx::serve;

void check_inputs(const std::vector<ModelInput>& inputs, const Limits& limits) {
  if (inputs.empty() || inputs.size() > limits.max_inputs) std::abort();
  for (const auto& input : inputs) {
    if (input.ids) {
      if (input.ids->empty()) std::abort();
      for (const int64_t id : *input.ids)
        if (id < 0) std::abort();
    } else if (input.text.empty() || input.text.size() > limits.max_text_bytes) {
      std::abort();
    }
  }
}

// Runs one parser: an ApiError must be a 4xx with a message; anything else escaping aborts.
template <typename F>
void expect_4xx_or_ok(F parse) {
  try {
    parse();
  } catch (const ApiError& e) {
    if (e.status < 400 || e.status >= 500 || e.message.empty()) std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  Limits limits;
  limits.max_body_bytes = 1 << 16;
  limits.max_inputs = 16;
  limits.max_text_bytes = 1 << 12;
  for (const bool classify : {false, true}) {
    const auto r =
        classify ? parse_classify_request(body, limits) : parse_embed_request(body, limits);
    if (r.ok()) {
      if (r.inputs.empty() || r.inputs.size() > limits.max_inputs) std::abort();
      for (const auto& input : r.inputs)
        if (input.text.empty() || input.text.size() > limits.max_text_bytes) std::abort();
    } else if (r.status < 400 || r.status >= 500 || r.error.empty() || !r.inputs.empty()) {
      std::abort();
    }
  }
  expect_4xx_or_ok([&] {
    const auto r = parse_openai_embeddings(body, limits);
    check_inputs(r.inputs, limits);
    if (r.dimensions && *r.dimensions < 1) std::abort();
  });
  for (const bool all : {false, true})
    expect_4xx_or_ok([&] { check_inputs(parse_tei_embed(body, limits, all).inputs, limits); });
  expect_4xx_or_ok([&] {
    const auto r = parse_tei_predict(body, limits);
    check_inputs(r.inputs, limits);
    if (!r.batched && r.inputs.size() != 1) std::abort();
  });
  expect_4xx_or_ok([&] {
    const auto r = parse_tei_rerank(body, limits);
    if (r.query.empty() || r.texts.empty() || r.texts.size() > limits.max_inputs) std::abort();
  });
  expect_4xx_or_ok([&] {
    const auto r = parse_tei_tokenize(body, limits);
    if (r.inputs.empty() || r.inputs.size() > limits.max_inputs) std::abort();
  });
  expect_4xx_or_ok([&] {
    const auto r = parse_tei_decode(body, limits);
    if (r.ids.empty() || r.ids.size() > limits.max_inputs) std::abort();
  });
  // The same bytes as a request head.
  HttpRequest request;
  bool unsupported = false;
  if (parse_request_head(body, request, &unsupported).empty()) {
    if (request.path.empty() || request.path[0] != '/' || request.method.empty()) std::abort();
    if (unsupported) std::abort();
  }
  return 0;
}
