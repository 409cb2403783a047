// HttpRequest, HttpResponse and Handler: what route handlers see of HTTP.
// Deliberately free of Boost (and of any other heavy header) so that every
// handler is written and compiled without Beast; only agent/http/server.cc
// converts between these and Beast's messages. Plain value types; a request
// is only read by the one handler it is given to.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace linkwatch {

class Secret;

namespace http {

// Orders header names case-insensitively (ASCII), as HTTP requires.
struct CaseInsensitiveLess {
  using is_transparent = void;
  bool operator()(std::string_view a, std::string_view b) const;
};

using HeaderMap = std::multimap<std::string, std::string, CaseInsensitiveLess>;

struct HttpRequest {
  std::string method;  // upper case, e.g. "GET"
  std::string target;  // as received: "/api/v1/notifications?state=dead"
  std::string path;    // percent-decoded path without the query: "/api/v1/notifications"
  std::map<std::string, std::string> query;  // decoded; the first value wins for repeats
  std::vector<std::pair<std::string, std::string>> query_list;  // every pair, in order
  // Values of the route's "{name}" segments; "*" holds the rest of the path
  // matched by a trailing "/*" (decoded, without the leading '/').
  std::map<std::string, std::string> path_params;
  HeaderMap headers;  // case-insensitive names
  std::string body;

  // The first value of a header, or "" when absent. Case-insensitive name.
  const std::string& Header(std::string_view name) const;
  bool HasHeader(std::string_view name) const { return headers.find(name) != headers.end(); }
  // A query parameter or path parameter, or `fallback` when absent.
  std::string Query(const std::string& name, std::string fallback = "") const;
  // Every value of a repeated query parameter (?filter=a&filter=b), in order.
  std::vector<std::string> QueryValues(const std::string& name) const;
  std::string Param(const std::string& name) const;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers

  static HttpResponse Text(int status, std::string body);
  // `json` must already be serialized JSON text.
  static HttpResponse Json(int status, std::string json);
  // {"error": message} with the right escaping.
  static HttpResponse Error(int status, std::string_view message);
};

using Handler = std::function<HttpResponse(const HttpRequest&)>;

// True when `presented` equals the secret, compared in a time that does not
// depend on where they first differ. An empty secret never matches.
bool MatchesSecret(std::string_view presented, const Secret& secret);
// True when the request carries "Authorization: Bearer <token>" equal to the
// secret. The comparison takes the same time wherever the first difference
// is, so the token cannot be guessed byte by byte. An empty secret never
// matches: without a configured token, mutating calls are refused.
bool CheckBearer(const HttpRequest& request, const Secret& token);
// The 401 answer for a failed CheckBearer (JSON error + WWW-Authenticate).
HttpResponse Unauthorized();

// Percent-decoding; `plus_is_space` for query strings. Returns false on a
// malformed escape ("%zz", a truncated "%4").
bool PercentDecode(std::string_view in, bool plus_is_space, std::string* out);
// Splits a request target into decoded path and query parameters. False when
// the target is not origin-form ("/...") or holds a malformed escape.
// `all`, when given, receives every pair in order (repeats included).
bool ParseTarget(std::string_view target, std::string* path,
                 std::map<std::string, std::string>* query,
                 std::vector<std::pair<std::string, std::string>>* all = nullptr);

}  // namespace http
}  // namespace linkwatch
