// Request parsing (every bad-input kind gets a status and a message, never an exception), the
// metrics registry's Prometheus text, and JSONL record parsing.
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "smx/serve/jsonl_stream.h"
#include "smx/serve/metrics.h"
#include "smx/serve/request.h"

namespace smx::serve {
namespace {

using ::testing::HasSubstr;

ParsedRequest embed(const std::string& body, const Limits& limits = {}) {
  return parse_embed_request(body, limits);
}

void expect_rejected(const std::string& body, int status, const std::string& message_part,
                     const Limits& limits = {}) {
  const ParsedRequest r = embed(body, limits);
  EXPECT_EQ(r.status, status) << "body: " << body.substr(0, 80) << "\nerror: " << r.error;
  EXPECT_THAT(r.error, HasSubstr(message_part)) << "body: " << body.substr(0, 80);
  EXPECT_TRUE(r.inputs.empty());
}

TEST(RequestParsing, AcceptsOneInputAListAndPairs) {
  auto r = embed(R"({"input": "hello world"})");
  ASSERT_TRUE(r.ok()) << r.error;
  ASSERT_EQ(r.inputs.size(), 1U);
  EXPECT_EQ(r.inputs[0].text, "hello world");
  EXPECT_FALSE(r.inputs[0].text_pair);
  EXPECT_FALSE(r.batched);
  EXPECT_EQ(r.pooling, Pooling::kCls);

  r = embed(R"({"inputs": ["a", {"text": "b", "text_pair": "c"}], "pooling": "mean"})");
  ASSERT_TRUE(r.ok()) << r.error;
  ASSERT_EQ(r.inputs.size(), 2U);
  EXPECT_TRUE(r.batched);
  EXPECT_EQ(r.inputs[1].text, "b");
  EXPECT_EQ(r.inputs[1].text_pair.value_or(""), "c");
  EXPECT_EQ(r.pooling, Pooling::kMean);

  r = parse_classify_request(R"({"input": {"text": "x", "text_pair": "y"}})", Limits{});
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.inputs[0].text_pair.value_or(""), "y");
  // Non-ASCII text and escapes are fine.
  r = embed(R"({"input": "caf\u00e9 \u2603 na\u00efve"})");
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.inputs[0].text, "caf\xC3\xA9 \xE2\x98\x83 na\xC3\xAFve");
}

TEST(RequestParsing, MalformedJson) {
  expect_rejected("", 400, "empty request body");
  expect_rejected("   \n", 400, "empty request body");
  expect_rejected("{", 400, "malformed JSON");
  expect_rejected(R"({"input": "a",})", 400, "malformed JSON");
  expect_rejected(R"({"input": "a"} trailing)", 400, "malformed JSON");
  expect_rejected("\xff\xfe{}", 400, "malformed JSON");
  expect_rejected(std::string("{\"input\": \"a\0b\"}", 16), 400, "malformed JSON");
}

TEST(RequestParsing, WrongTypesAndMissingFields) {
  expect_rejected(R"(["input"])", 400, "must be a JSON object");
  expect_rejected(R"("text")", 400, "must be a JSON object");
  expect_rejected(R"({})", 400, "exactly one of 'input'");
  expect_rejected(R"({"input": "a", "inputs": ["b"]})", 400, "exactly one of 'input'");
  expect_rejected(R"({"input": 5})", 400, "input must be a string or an object");
  expect_rejected(R"({"input": null})", 400, "input must be a string or an object");
  expect_rejected(R"({"input": ["a"]})", 400, "input must be a string or an object");
  expect_rejected(R"({"inputs": "a"})", 400, "'inputs' must be a list");
  expect_rejected(R"({"inputs": ["a", 3]})", 400, "inputs[1] must be a string");
  expect_rejected(R"({"input": {"text_pair": "b"}})", 400, "missing 'text'");
  expect_rejected(R"({"input": {"text": 1}})", 400, "input.text must be a string");
  expect_rejected(R"({"input": {"text": "a", "text_pair": false}})", 400,
                  "input.text_pair must be a string");
  expect_rejected(R"({"input": {"text": "a", "label": 1}})", 400, "unknown key 'label'");
  expect_rejected(R"({"input": "a", "model": "x"})", 400, "unknown key 'model'");
  expect_rejected(R"({"input": "a", "pooling": 3})", 400, "'pooling' must be a string");
  expect_rejected(R"({"input": "a", "pooling": "sum"})", 400, "'pooling' must be");
  // classify has no pooling
  const auto r = parse_classify_request(R"({"input": "a", "pooling": "cls"})", Limits{});
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(r.error, HasSubstr("unknown key 'pooling'"));
}

TEST(RequestParsing, EmptyStringsAndLists) {
  expect_rejected(R"({"input": ""})", 400, "input is an empty string");
  expect_rejected(R"({"inputs": []})", 400, "'inputs' is an empty list");
  expect_rejected(R"({"inputs": ["a", ""]})", 400, "inputs[1] is an empty string");
  expect_rejected(R"({"input": {"text": "a", "text_pair": ""}})", 400,
                  "input.text_pair is an empty string");
}

TEST(RequestParsing, InvalidUtf8) {
  expect_rejected("{\"input\": \"abc\xC3\"}", 400, "");              // truncated sequence
  expect_rejected("{\"input\": \"\xED\xA0\x80\"}", 400, "");         // raw surrogate
  expect_rejected("{\"input\": \"\xC0\xAF\"}", 400, "");             // overlong
  expect_rejected(R"({"input": "\ud800"})", 400, "malformed JSON");  // lone surrogate escape
  const auto r = embed("{\"input\": \"\xF0\x9F\x98\x80\"}");         // valid 4-byte
  EXPECT_TRUE(r.ok()) << r.error;
}

TEST(RequestParsing, HugePayloadsListsAndTexts) {
  Limits limits;
  limits.max_body_bytes = 1000;
  limits.max_inputs = 3;
  limits.max_text_bytes = 20;
  expect_rejected("{\"input\": \"" + std::string(2000, 'a') + "\"}", 413, "limit is 1000", limits);
  expect_rejected(R"({"inputs": ["a", "b", "c", "d"]})", 413, "'inputs' has 4 entries", limits);
  expect_rejected("{\"input\": \"" + std::string(21, 'a') + "\"}", 413, "input has 21 bytes",
                  limits);
  expect_rejected(
      "{\"inputs\": [\"a\", {\"text\": \"b\", \"text_pair\": \"" + std::string(30, 'x') + "\"}]}",
      413, "inputs[1].text_pair has 30 bytes", limits);
  // A million-entry list is refused by count, not by building a million inputs.
  std::string many = "{\"inputs\": [";
  for (int i = 0; i < 100000; ++i) many += i ? ",\"a\"" : "\"a\"";
  many += "]}";
  expect_rejected(many, 413, "'inputs' has 100000 entries");
}

TEST(RequestParsing, DeepNestingIsRefusedBeforeParsing) {
  expect_rejected(std::string(100000, '[') + std::string(100000, ']'), 400, "nests deeper");
  expect_rejected("{\"input\": " + std::string(80, '[') + std::string(80, ']') + "}", 400,
                  "nests deeper");
  // Brackets inside strings do not count.
  const auto r = embed(R"({"input": "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[ \"{{{{{{{{{{{{{{{{"})");
  EXPECT_TRUE(r.ok()) << r.error;
}

TEST(RequestParsing, ArbitraryBytesNeverThrow) {
  // A cheap deterministic fuzz pass (the libFuzzer target does the real one).
  uint64_t state = 12345;
  const std::string seeds[] = {R"({"inputs": ["a", {"text": "b", "text_pair": "c"}]})",
                               R"({"input": "x", "pooling": "mean"})"};
  for (int i = 0; i < 3000; ++i) {
    std::string body = seeds[i % 2];
    for (int k = 0; k < 1 + i % 5; ++k) {
      state = state * 6364136223846793005ULL + 1442695040888963407ULL;
      const size_t pos = (state >> 33) % (body.size() + 1);
      const char c = static_cast<char>(state >> 56);
      if (state & 1)
        body.insert(pos, 1, c);
      else if (pos < body.size())
        body[pos] = c;
    }
    const auto r = embed(body);
    if (!r.ok()) {
      EXPECT_GE(r.status, 400);
      EXPECT_LT(r.status, 500);
      EXPECT_FALSE(r.error.empty());
    }
  }
}

TEST(JsonlRecords, GoodAndBadLines) {
  Limits limits;
  JsonlRecord record;
  EXPECT_EQ(parse_jsonl_record(R"({"id": 7, "text": "a b", "text_pair": "c"})", 3, limits, record),
            "");
  EXPECT_EQ(record.line, 3);
  EXPECT_EQ(record.id_json, "7");
  EXPECT_EQ(record.input.text_pair.value_or(""), "c");
  EXPECT_EQ(record_key_fields(record), "\"id\":7");
  EXPECT_EQ(parse_jsonl_record(R"({"text": "a", "label": 1})", 4, limits, record), "");
  EXPECT_EQ(record_key_fields(record), "\"line\":4");
  EXPECT_THAT(parse_jsonl_record("{oops", 1, limits, record), HasSubstr("malformed JSON"));
  EXPECT_THAT(
      parse_jsonl_record("{\"text\": " + std::string(100, '[') + std::string(100, ']') + "}", 1,
                         limits, record),
      HasSubstr("nests deeper"));
  EXPECT_THAT(parse_jsonl_record(R"({"id": "x"})", 1, limits, record), HasSubstr("missing 'text'"));
  EXPECT_EQ(record.id_json, "\"x\"");
  EXPECT_THAT(parse_jsonl_record(R"({"text": ""})", 1, limits, record), HasSubstr("empty"));
  EXPECT_THAT(parse_jsonl_record(R"({"text": 3})", 1, limits, record),
              HasSubstr("must be a string"));
  EXPECT_THAT(parse_jsonl_record("[1]", 1, limits, record), HasSubstr("expected an object"));
}

TEST(Metrics, RendersPrometheusText) {
  MetricsRegistry m;
  m.add_counter("smx_requests_total", "Requests");
  m.add_gauge("smx_queue_depth", "Queue");
  m.add_histogram("smx_latency_seconds", "Latency", {0.1, 1});
  m.increment("smx_requests_total", {{"route", "/v1/embed"}, {"status", "200"}});
  m.increment("smx_requests_total", {{"route", "/v1/embed"}, {"status", "200"}});
  m.increment("smx_requests_total", {{"route", "we\"ird\\"}, {"status", "400"}});
  m.set("smx_queue_depth", {}, 3);
  m.observe("smx_latency_seconds", {{"route", "a"}}, 0.0625);
  m.observe("smx_latency_seconds", {{"route", "a"}}, 0.5);
  m.observe("smx_latency_seconds", {{"route", "a"}}, 4);
  const std::string text = m.render();
  EXPECT_THAT(text, HasSubstr("# TYPE smx_requests_total counter\n"));
  EXPECT_THAT(text, HasSubstr("smx_requests_total{route=\"/v1/embed\",status=\"200\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("smx_requests_total{route=\"we\\\"ird\\\\\",status=\"400\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("smx_queue_depth 3\n"));
  EXPECT_THAT(text, HasSubstr("smx_latency_seconds_bucket{route=\"a\",le=\"0.1\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("smx_latency_seconds_bucket{route=\"a\",le=\"1\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("smx_latency_seconds_bucket{route=\"a\",le=\"+Inf\"} 3\n"));
  EXPECT_THAT(text, HasSubstr("smx_latency_seconds_sum{route=\"a\"} 4.5625\n"));
  EXPECT_THAT(text, HasSubstr("smx_latency_seconds_count{route=\"a\"} 3\n"));
  EXPECT_EQ(m.value("smx_requests_total", {{"route", "/v1/embed"}, {"status", "200"}}), 2);
  EXPECT_EQ(m.count("smx_latency_seconds", {{"route", "a"}}), 3);
  EXPECT_THROW(m.increment("smx_unregistered"), std::exception);
}

}  // namespace
}  // namespace smx::serve
