// Request parsing for the OpenAI-compatible (/v1/embeddings) and text-embeddings-inference
// compatible (/embed, /embed_all, /predict, /rerank, /tokenize, /decode) routes (docs/serving.md).
// Pure functions from a body to a request struct; a bad body throws ApiError with the HTTP status,
// never anything else, so they can be unit-tested and fuzzed (fuzz/request_fuzzer.cpp) alone.
// Unknown keys are ignored, as both APIs' own servers do, so clients that send extra fields work.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "smx/serve/request.h"

namespace smx::serve {

// A request the server refuses: status (4xx), message, and for OpenAI's error object the
// offending parameter and a machine-readable code ("" when none).
struct ApiError {
  int status = 400;
  std::string message;
  std::string param;
  std::string code;
};

// One model input: a text (optionally paired), or token ids as /tokenize returns them without
// special tokens (the server adds [CLS] and [SEP] as it does for text).
struct ModelInput {
  std::string text;
  std::optional<std::string> text_pair;
  std::optional<std::vector<int64_t>> ids;
};

// POST /v1/embeddings: {"input": "t" | ["t", ...] | [id, ...] | [[id, ...], ...], "model",
// "encoding_format": "float" | "base64", "dimensions", "user"}.
struct OpenAIEmbeddingsRequest {
  std::vector<ModelInput> inputs;
  std::optional<std::string> model;
  bool base64 = false;
  std::optional<int64_t> dimensions;  // >= 1; checked against the model width by the server
};
OpenAIEmbeddingsRequest parse_openai_embeddings(std::string_view body, const Limits& limits);

// Truncation shared by the TEI routes: "truncate" (null: the server's --truncate) and
// "truncation_direction": "right" (default) | "left" (drop tokens from the start).
struct TeiTruncation {
  std::optional<bool> truncate;
  bool left = false;
};

// POST /embed and /embed_all: {"inputs": "t" | ["t", ...] | [id, ...] | [[id, ...], ...],
// "normalize" (default true; /embed only), "dimensions" (/embed only), truncation}.
struct TeiEmbedRequest {
  std::vector<ModelInput> inputs;
  TeiTruncation truncation;
  bool normalize = true;
  std::optional<int64_t> dimensions;
};
TeiEmbedRequest parse_tei_embed(std::string_view body, const Limits& limits, bool embed_all);

// POST /predict: "inputs" is "t", ["a", "b"] (one pair), or [["t"], ["a", "b"], ...] (a batch);
// "raw_scores" (default false), truncation.
struct TeiPredictRequest {
  std::vector<ModelInput> inputs;
  bool batched = false;
  TeiTruncation truncation;
  bool raw_scores = false;
};
TeiPredictRequest parse_tei_predict(std::string_view body, const Limits& limits);

// POST /rerank: {"query", "texts": [...], "return_text", "raw_scores", truncation}.
struct TeiRerankRequest {
  std::string query;
  std::vector<std::string> texts;
  TeiTruncation truncation;
  bool raw_scores = false;
  bool return_text = false;
};
TeiRerankRequest parse_tei_rerank(std::string_view body, const Limits& limits);

// POST /tokenize: {"inputs": "t" | ["t", ...], "add_special_tokens" (default true)}.
struct TeiTokenizeRequest {
  std::vector<std::string> inputs;
  bool add_special_tokens = true;
};
TeiTokenizeRequest parse_tei_tokenize(std::string_view body, const Limits& limits);

// POST /decode: {"ids": [id, ...] | [[id, ...], ...], "skip_special_tokens" (default true)}.
struct TeiDecodeRequest {
  std::vector<std::vector<int64_t>> ids;
  bool skip_special_tokens = true;
};
TeiDecodeRequest parse_tei_decode(std::string_view body, const Limits& limits);

}  // namespace smx::serve
