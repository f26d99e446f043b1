// The HTTP/1.1 head parser and response writer of the server's transport.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "smx/serve/http.h"

namespace smx::serve {
namespace {

using ::testing::HasSubstr;

TEST(HttpHead, ParsesRequestLineAndHeaders) {
  HttpRequest r;
  bool unsupported = true;
  ASSERT_EQ(parse_request_head("POST /v1/embed?x=1 HTTP/1.1\r\nHost: a\r\nContent-Length:  12 \r\n"
                               "X-Request-Id: abc\r\nExpect: 100-continue\r\n\r\n",
                               r, &unsupported),
            "");
  EXPECT_FALSE(unsupported);
  EXPECT_EQ(r.method, "POST");
  EXPECT_EQ(r.path, "/v1/embed");
  EXPECT_EQ(r.query, "x=1");
  EXPECT_EQ(r.content_length, 12U);
  EXPECT_EQ(r.header("x-request-id"), "abc");
  EXPECT_TRUE(r.keep_alive);
  EXPECT_TRUE(r.expect_continue);

  ASSERT_EQ(
      parse_request_head("GET / HTTP/1.1\r\nConnection: Keep-Alive, Close\r\n\r\n", r, nullptr),
      "");
  EXPECT_FALSE(r.keep_alive);
  ASSERT_EQ(parse_request_head("GET / HTTP/1.0\r\n\r\n", r, nullptr), "");
  EXPECT_FALSE(r.keep_alive);
  ASSERT_EQ(parse_request_head("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", r, nullptr), "");
  EXPECT_TRUE(r.keep_alive);
  EXPECT_EQ(r.content_length, 0U);
}

TEST(HttpHead, RejectsMalformedHeads) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"HELLO\r\n\r\n", "request line"},
      {"GET  / HTTP/1.1\r\n\r\n", "request line"},
      {"GET / HTTP/2.0\r\n\r\n", "unsupported protocol version"},
      {"GET nothing HTTP/1.1\r\n\r\n", "request target"},
      {"G(T / HTTP/1.1\r\n\r\n", "method"},
      {"GET / HTTP/1.1\r\nBad Name: x\r\n\r\n", "header field name"},
      {"GET / HTTP/1.1\r\n: x\r\n\r\n", "without a name"},
      {"GET / HTTP/1.1\r\nA: b\r\n c\r\n\r\n", "folding"},
      {"GET / HTTP/1.1\r\nContent-Length: 1x\r\n\r\n", "decimal"},
      {"GET / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", "decimal"},
      {"GET / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n", "decimal"},
      {"GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", "conflicting"},
      {"GET / HTTP/1.1\r\nA: b\x01\r\n\r\n", "control character"},
      {"GET / HTTP/1.1\r\nA: b\r\n", "not terminated"},
  };
  for (const auto& [head, needle] : cases) {
    HttpRequest r;
    EXPECT_THAT(parse_request_head(head, r, nullptr), HasSubstr(needle)) << head;
  }
  HttpRequest r;
  bool unsupported = false;
  EXPECT_THAT(
      parse_request_head("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", r, &unsupported),
      HasSubstr("Content-Length"));
  EXPECT_TRUE(unsupported);
}

TEST(HttpResponse, SerializesWithLengthAndConnection) {
  HttpResponse res;
  res.status = 429;
  res.body = "{\"a\":1}";
  res.set_header("Retry-After", "1");
  res.set_header("X-Evil", "a\r\nInjected: yes");
  const std::string text = serialize_response(res, false);
  EXPECT_EQ(text.rfind("HTTP/1.1 429 Too Many Requests\r\n", 0), 0U) << text;
  EXPECT_THAT(text, HasSubstr("Content-Length: 7\r\n"));
  EXPECT_THAT(text, HasSubstr("Connection: close\r\n\r\n{\"a\":1}"));
  EXPECT_THAT(text, HasSubstr("Retry-After: 1\r\n"));
  EXPECT_THAT(text, ::testing::Not(HasSubstr("\r\nInjected")));
  res.status = 204;
  EXPECT_THAT(serialize_response(res, true), ::testing::Not(HasSubstr("Content-Length")));
}

}  // namespace
}  // namespace smx::serve
