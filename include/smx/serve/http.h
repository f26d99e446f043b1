// HTTP/1.1 messages for the inference server: a request head parser and a response writer. Pure
// functions, no sockets, so they can be unit-tested and fuzzed on their own
// (fuzz/request_fuzzer.cpp). Only what an API server needs: Content-Length bodies (no chunked
// uploads), no multipart, no ranges.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace smx::serve {

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

struct HttpRequest {
  std::string method;     // as sent: GET, POST, ...
  std::string target;     // request-target as sent
  std::string path;       // target up to '?', percent-decoding not applied
  std::string query;      // after '?', "" if none
  int minor_version = 1;  // HTTP/1.<minor_version>
  HttpHeaders headers;    // names lower-cased, values trimmed, in arrival order
  std::string body;
  std::size_t content_length = 0;
  bool keep_alive = true;        // HTTP/1.1 unless "Connection: close"; HTTP/1.0 only if asked
  bool expect_continue = false;  // "Expect: 100-continue"
  std::string remote;            // peer address "ip:port"
  std::chrono::steady_clock::time_point start;  // first byte of the request arrived
  // What the application attached when it saw the head (request id, admission to a concurrency
  // slot, ...); released when the request is done with, whatever happened to the connection.
  std::shared_ptr<void> context;

  // First value of a header (name lower-case), "" if absent.
  const std::string& header(std::string_view name) const;
  bool has_header(std::string_view name) const;
};

struct HttpResponse {
  int status = 200;
  HttpHeaders headers;  // extra headers (Content-Type, Content-Length, Connection are written)
  std::string content_type = "application/json";
  std::string body;
  bool close = false;  // close the connection after this response

  void set_header(std::string name, std::string value);
  const std::string& header(std::string_view name) const;  // "" if not set
};

// Parses a request head (request line and header fields, up to and including the blank line).
// Returns "" and fills `out` on success, else why it is malformed (the caller answers 400).
// Rejects: bad request line, versions other than HTTP/1.0 and 1.1, header names with spaces or
// control characters, obsolete line folding, conflicting or non-numeric Content-Length, and
// Transfer-Encoding (bodies must carry Content-Length; `*unsupported` is then set so the
// caller answers 501 instead).
std::string parse_request_head(std::string_view head, HttpRequest& out, bool* unsupported);

// "HTTP/1.1 <status> <reason>\r\n..." with Content-Type, Content-Length, Connection and the
// response's headers; `keep_alive` chooses the Connection header.
std::string serialize_response(const HttpResponse& response, bool keep_alive);

// The reason phrase for a status code ("OK", "Not Found", ...; "Unknown" for others).
const char* status_reason(int status);

// Header names and values must not carry CR/LF (response splitting): replaces them with spaces.
std::string sanitize_header_value(std::string_view value);

}  // namespace smx::serve
