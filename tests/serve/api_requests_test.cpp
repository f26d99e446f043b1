// The OpenAI- and TEI-compatible request parsers: every documented input form, and every kind of
// bad input refused with a 4xx ApiError naming what was wrong (never another exception).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "smx/serve/api_requests.h"

namespace smx::serve {
namespace {

using ::testing::HasSubstr;

Limits small_limits() {
  Limits l;
  l.max_inputs = 4;
  l.max_text_bytes = 64;
  l.max_body_bytes = 4096;
  l.max_json_depth = 8;
  return l;
}

// Expects `parse` to throw ApiError with `status` and a message containing `needle`.
template <typename F>
void expect_api_error(F parse, int status, const std::string& needle, const std::string& body) {
  try {
    parse();
    ADD_FAILURE() << "accepted: " << body;
  } catch (const ApiError& e) {
    EXPECT_EQ(e.status, status) << body << " -> " << e.message;
    EXPECT_THAT(e.message, HasSubstr(needle)) << body;
  } catch (const std::exception& e) {
    ADD_FAILURE() << "threw something other than ApiError for " << body << ": " << e.what();
  }
}

TEST(OpenAIEmbeddingsRequest, EveryInputForm) {
  const Limits l = small_limits();
  auto r = parse_openai_embeddings(R"({"input": "one text", "model": "m"})", l);
  ASSERT_EQ(r.inputs.size(), 1U);
  EXPECT_EQ(r.inputs[0].text, "one text");
  EXPECT_FALSE(r.inputs[0].ids);
  EXPECT_EQ(r.model, "m");
  EXPECT_FALSE(r.base64);

  r = parse_openai_embeddings(R"({"input": ["a", "b", "c"]})", l);
  ASSERT_EQ(r.inputs.size(), 3U);
  EXPECT_EQ(r.inputs[2].text, "c");
  EXPECT_FALSE(r.model);

  r = parse_openai_embeddings(R"({"input": [7, 8, 9]})", l);
  ASSERT_EQ(r.inputs.size(), 1U);
  ASSERT_TRUE(r.inputs[0].ids);
  EXPECT_EQ(*r.inputs[0].ids, (std::vector<int64_t>{7, 8, 9}));

  r = parse_openai_embeddings(R"({"input": [[7, 8], [9], "mixed text"]})", l);
  ASSERT_EQ(r.inputs.size(), 3U);
  EXPECT_EQ(*r.inputs[0].ids, (std::vector<int64_t>{7, 8}));
  EXPECT_EQ(*r.inputs[1].ids, (std::vector<int64_t>{9}));
  EXPECT_EQ(r.inputs[2].text, "mixed text");

  r = parse_openai_embeddings(
      R"({"input": "x", "encoding_format": "base64", "dimensions": 3, "user": "u-1", "extra": 1})",
      l);
  EXPECT_TRUE(r.base64);
  EXPECT_EQ(r.dimensions, 3);
}

TEST(OpenAIEmbeddingsRequest, BadInputsAre4xx) {
  const Limits l = small_limits();
  const std::vector<std::tuple<std::string, int, std::string>> cases = {
      {"", 400, "empty request body"},
      {"{nope", 400, "not valid JSON"},
      {"[1]", 400, "must be a JSON object"},
      {R"({"model": "m"})", 400, "missing 'input'"},
      {R"({"input": ""})", 400, "empty string"},
      {R"({"input": []})", 400, "empty list"},
      {R"({"input": [[]]})", 400, "empty list of token ids"},
      {R"({"input": 5})", 400, "must be a string"},
      {R"({"input": [1, -2]})", 400, "input[1] must be a token id"},
      {R"({"input": [1, 2.5]})", 400, "must be a token id"},
      {R"({"input": [1, "a"]})", 400, "must be a token id"},
      {R"({"input": [9999999999]})", 400, "must be a token id"},
      {R"({"input": ["a", {"t": 1}]})", 400, "input[1] must be a string or a list of token ids"},
      {R"({"input": ["a", "b", "c", "d", "e"]})", 413, "limit is 4"},
      {R"({"input": ")" + std::string(100, 'x') + R"("})", 413, "the limit is 64"},
      {"{\"input\": \"\xC3\x28\"}", 400, "not valid JSON"},
      {R"({"input": "a", "encoding_format": "int8"})", 400, "encoding_format"},
      {R"({"input": "a", "dimensions": 0})", 400, "positive integer"},
      {R"({"input": "a", "dimensions": "8"})", 400, "positive integer"},
      {R"({"input": "a", "model": 3})", 400, "'model' must be a string"},
      {R"({"input": "a", "user": 3})", 400, "'user' must be a string"},
      {R"({"input": [[[[[[[[[[1]]]]]]]]]]})", 400, "deeper than 8"},
      {std::string(5000, 'x'), 413, "the limit is 4096"},
  };
  for (const auto& [body, status, needle] : cases)
    expect_api_error([&] { return parse_openai_embeddings(body, l); }, status, needle, body);
}

TEST(TeiRequests, EmbedForms) {
  const Limits l = small_limits();
  auto r = parse_tei_embed(R"({"inputs": "a"})", l, false);
  ASSERT_EQ(r.inputs.size(), 1U);
  EXPECT_TRUE(r.normalize);
  EXPECT_FALSE(r.truncation.truncate);
  EXPECT_FALSE(r.truncation.left);
  r = parse_tei_embed(
      R"({"inputs": ["a", [5, 6]], "normalize": false, "truncate": true,
          "truncation_direction": "Left", "dimensions": 4})",
      l, false);
  ASSERT_EQ(r.inputs.size(), 2U);
  EXPECT_TRUE(r.inputs[1].ids);
  EXPECT_FALSE(r.normalize);
  EXPECT_EQ(r.truncation.truncate, true);
  EXPECT_TRUE(r.truncation.left);
  EXPECT_EQ(r.dimensions, 4);
  r = parse_tei_embed(R"({"inputs": [1, 2], "truncate": null})", l, true);
  EXPECT_EQ(*r.inputs[0].ids, (std::vector<int64_t>{1, 2}));
  EXPECT_FALSE(r.truncation.truncate);

  for (const auto& [body, status, needle] : std::vector<std::tuple<std::string, int, std::string>>{
           {R"({"input": "a"})", 400, "missing 'inputs'"},
           {R"({"inputs": "a", "normalize": "yes"})", 400, "'normalize' must be true or false"},
           {R"({"inputs": "a", "truncation_direction": "middle"})", 422, "truncation_direction"},
           {R"({"inputs": "a", "prompt_name": "query"})", 422, "prompt_name"},
           {R"({"inputs": {"text": "a"}})", 400, "must be a string"},
       })
    expect_api_error([&] { return parse_tei_embed(body, l, false); }, status, needle, body);
}

TEST(TeiRequests, PredictSinglePairAndBatch) {
  const Limits l = small_limits();
  auto r = parse_tei_predict(R"({"inputs": "a"})", l);
  ASSERT_EQ(r.inputs.size(), 1U);
  EXPECT_FALSE(r.batched);
  EXPECT_FALSE(r.inputs[0].text_pair);
  r = parse_tei_predict(R"({"inputs": ["premise", "hypothesis"], "raw_scores": true})", l);
  ASSERT_EQ(r.inputs.size(), 1U);
  EXPECT_FALSE(r.batched);
  EXPECT_EQ(r.inputs[0].text_pair, "hypothesis");
  EXPECT_TRUE(r.raw_scores);
  r = parse_tei_predict(R"({"inputs": [["a"], ["b", "c"]]})", l);
  ASSERT_EQ(r.inputs.size(), 2U);
  EXPECT_TRUE(r.batched);
  EXPECT_FALSE(r.inputs[0].text_pair);
  EXPECT_EQ(r.inputs[1].text_pair, "c");
  for (const auto& [body, status, needle] : std::vector<std::tuple<std::string, int, std::string>>{
           {R"({"inputs": ["a", "b", "c"]})", 422, "pair of texts"},
           {R"({"inputs": [["a", "b", "c"]]})", 422, "inputs[0] must be a text or a pair"},
           {R"({"inputs": [[]]})", 422, "pair"},
           {R"({"inputs": []})", 400, "empty list"},
           {R"({"inputs": 1})", 422, "must be a text"},
           {R"({"inputs": [["a", 2]]})", 400, "inputs[0][1] must be a string"},
           {R"({"inputs": "a", "raw_scores": 1})", 400, "raw_scores"},
       })
    expect_api_error([&] { return parse_tei_predict(body, l); }, status, needle, body);
}

TEST(TeiRequests, RerankTokenizeDecode) {
  const Limits l = small_limits();
  const auto rr =
      parse_tei_rerank(R"({"query": "q", "texts": ["a", "b"], "return_text": true})", l);
  EXPECT_EQ(rr.query, "q");
  EXPECT_EQ(rr.texts, (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(rr.return_text);
  EXPECT_FALSE(rr.raw_scores);
  const auto t = parse_tei_tokenize(R"({"inputs": ["a b", "c"], "add_special_tokens": false})", l);
  EXPECT_EQ(t.inputs.size(), 2U);
  EXPECT_FALSE(t.add_special_tokens);
  EXPECT_TRUE(parse_tei_tokenize(R"({"inputs": "x"})", l).add_special_tokens);
  auto d = parse_tei_decode(R"({"ids": [4, 9, 5]})", l);
  ASSERT_EQ(d.ids.size(), 1U);
  EXPECT_TRUE(d.skip_special_tokens);
  d = parse_tei_decode(R"({"ids": [[4], [9, 5]], "skip_special_tokens": false})", l);
  ASSERT_EQ(d.ids.size(), 2U);
  EXPECT_FALSE(d.skip_special_tokens);

  for (const auto& [body, status, needle] : std::vector<std::tuple<std::string, int, std::string>>{
           {R"({"texts": ["a"]})", 400, "missing 'query'"},
           {R"({"query": "q", "texts": "a"})", 422, "'texts' must be a list"},
           {R"({"query": "q", "texts": []})", 400, "empty list"},
           {R"({"query": "q", "texts": ["a", 1]})", 400, "texts[1] must be a string"},
           {R"({"query": "", "texts": ["a"]})", 400, "empty string"},
       })
    expect_api_error([&] { return parse_tei_rerank(body, l); }, status, needle, body);
  expect_api_error([&] { return parse_tei_tokenize(R"({"inputs": [1]})", l); }, 400,
                   "inputs[0] must be a string", "tokenize [1]");
  expect_api_error([&] { return parse_tei_decode(R"({"ids": []})", l); }, 400, "empty list",
                   "decode []");
  expect_api_error([&] { return parse_tei_decode(R"({"ids": "a"})", l); }, 422,
                   "'ids' must be a list", "decode a");
}

}  // namespace
}  // namespace smx::serve
