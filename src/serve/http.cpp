#include "smx/serve/http.h"

#include <algorithm>
#include <cctype>

#include <fmt/format.h>

namespace smx::serve {
namespace {

const std::string kEmpty;

bool is_token_char(char c) {
  // RFC 9110 tchar
  const auto u = static_cast<unsigned char>(c);
  if (std::isalnum(u)) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Whether a comma-separated header value lists `token` (case-insensitive).
bool lists_token(std::string_view value, std::string_view token) {
  const std::string v = lower(value);
  size_t at = 0;
  while (at <= v.size()) {
    const size_t end = std::min(v.find(',', at), v.size());
    if (trim(std::string_view(v).substr(at, end - at)) == token) return true;
    at = end + 1;
  }
  return false;
}

}  // namespace

const std::string& HttpRequest::header(std::string_view name) const {
  for (const auto& [k, v] : headers)
    if (k == name) return v;
  return kEmpty;
}

bool HttpRequest::has_header(std::string_view name) const {
  return std::any_of(headers.begin(), headers.end(),
                     [&](const auto& h) { return h.first == name; });
}

void HttpResponse::set_header(std::string name, std::string value) {
  for (auto& [k, v] : headers)
    if (lower(k) == lower(name)) {
      v = std::move(value);
      return;
    }
  headers.emplace_back(std::move(name), std::move(value));
}

const std::string& HttpResponse::header(std::string_view name) const {
  const std::string wanted = lower(name);
  for (const auto& [k, v] : headers)
    if (lower(k) == wanted) return v;
  return kEmpty;
}

std::string parse_request_head(std::string_view head, HttpRequest& out, bool* unsupported) {
  if (unsupported) *unsupported = false;
  // Request line.
  size_t eol = head.find("\r\n");
  if (eol == std::string_view::npos) return "no CRLF after the request line";
  const std::string_view line = head.substr(0, eol);
  const size_t sp1 = line.find(' ');
  const size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || line.find(' ', sp2 + 1) != std::string_view::npos)
    return "the request line must be METHOD TARGET HTTP/1.x";
  const std::string_view method = line.substr(0, sp1);
  const std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  const std::string_view version = line.substr(sp2 + 1);
  if (method.empty() || !std::all_of(method.begin(), method.end(), is_token_char))
    return "malformed method";
  if (target.empty() || target.front() != '/' ||
      std::any_of(target.begin(), target.end(),
                  [](char c) { return static_cast<unsigned char>(c) <= 0x20 || c == 0x7f; }))
    return "malformed request target (expected an absolute path such as /v1/embed)";
  if (version == "HTTP/1.1")
    out.minor_version = 1;
  else if (version == "HTTP/1.0")
    out.minor_version = 0;
  else
    return fmt::format("unsupported protocol version '{}' (HTTP/1.0 or HTTP/1.1)",
                       std::string(version.substr(0, 16)));
  out.method = std::string(method);
  out.target = std::string(target);
  const size_t q = target.find('?');
  out.path = std::string(target.substr(0, q));
  out.query = q == std::string_view::npos ? "" : std::string(target.substr(q + 1));
  out.headers.clear();

  // Header fields, until the blank line.
  bool have_length = false, connection_close = false, connection_keep_alive = false;
  size_t at = eol + 2;
  while (true) {
    eol = head.find("\r\n", at);
    if (eol == std::string_view::npos) return "header section not terminated by an empty line";
    const std::string_view field = head.substr(at, eol - at);
    at = eol + 2;
    if (field.empty()) break;
    if (field.front() == ' ' || field.front() == '\t')
      return "obsolete header line folding is not accepted";
    const size_t colon = field.find(':');
    if (colon == std::string_view::npos || colon == 0) return "header field without a name";
    const std::string_view name = field.substr(0, colon);
    if (!std::all_of(name.begin(), name.end(), is_token_char)) return "malformed header field name";
    const std::string_view value = trim(field.substr(colon + 1));
    if (std::any_of(value.begin(), value.end(), [](char c) {
          const auto u = static_cast<unsigned char>(c);
          return (u < 0x20 && c != '\t') || u == 0x7f;
        }))
      return "control character in a header value";
    std::string key = lower(name);
    if (key == "content-length") {
      if (value.empty() || value.size() > 15 ||
          !std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; }))
        return "Content-Length must be a decimal number";
      const auto length = static_cast<size_t>(std::stoull(std::string(value)));
      if (have_length && length != out.content_length) return "conflicting Content-Length values";
      have_length = true;
      out.content_length = length;
    } else if (key == "transfer-encoding") {
      if (unsupported) *unsupported = true;
      return "Transfer-Encoding is not supported; send the body with a Content-Length";
    } else if (key == "connection") {
      connection_close = connection_close || lists_token(value, "close");
      connection_keep_alive = connection_keep_alive || lists_token(value, "keep-alive");
    } else if (key == "expect") {
      out.expect_continue = lower(value) == "100-continue";
    }
    out.headers.emplace_back(std::move(key), std::string(value));
  }
  if (at != head.size()) return "bytes after the header section's end";
  if (!have_length) out.content_length = 0;
  out.keep_alive = out.minor_version == 1 ? !connection_close : connection_keep_alive;
  return "";
}

const char* status_reason(int status) {
  switch (status) {
    case 100:
      return "Continue";
    case 200:
      return "OK";
    case 204:
      return "No Content";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 411:
      return "Length Required";
    case 413:
      return "Payload Too Large";
    case 414:
      return "URI Too Long";
    case 415:
      return "Unsupported Media Type";
    case 422:
      return "Unprocessable Entity";
    case 424:
      return "Failed Dependency";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "Unknown";
  }
}

std::string sanitize_header_value(std::string_view value) {
  std::string out(value);
  for (char& c : out)
    if (c == '\r' || c == '\n' || c == '\0') c = ' ';
  return out;
}

std::string serialize_response(const HttpResponse& response, bool keep_alive) {
  std::string out =
      fmt::format("HTTP/1.1 {} {}\r\n", response.status, status_reason(response.status));
  const bool has_body = response.status != 204 && response.status >= 200;
  if (has_body && !response.content_type.empty())
    out += "Content-Type: " + sanitize_header_value(response.content_type) + "\r\n";
  for (const auto& [name, value] : response.headers)
    out += sanitize_header_value(name) + ": " + sanitize_header_value(value) + "\r\n";
  if (has_body) out += fmt::format("Content-Length: {}\r\n", response.body.size());
  out += keep_alive ? "Connection: keep-alive\r\n\r\n" : "Connection: close\r\n\r\n";
  if (has_body) out += response.body;
  return out;
}

}  // namespace smx::serve
