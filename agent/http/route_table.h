// RouteTable: the HTTP server's route table; maps (method, path) to a
// Handler. Patterns are absolute paths whose segments are literals,
// "{name}" (one segment, captured into HttpRequest::path_params) or, as the
// last segment only, "*" (the rest of the path, possibly empty, captured as
// path_params["*"]). When several routes match, the most specific wins: at
// the first segment where they differ, a literal beats "{name}" which beats
// "*".
//
// Dispatch answers 404 for an unknown path and 405 (with Allow) for a known
// path with another method, both as JSON errors; HEAD is served by the GET
// route without a body; a handler that throws gets a 500 JSON error and the
// exception is logged. Boost-free, so it is tested without sockets.
//
// Thread-safety: Add is not thread-safe; Find/Dispatch are const and may run
// concurrently once all routes are added (HttpServer guards the mix).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "agent/http/http_types.h"

namespace linkwatch::http {

class RouteTable {
 public:
  // Adds a route; a pattern not starting with '/' or with '*' before the
  // end is a programming error and throws std::invalid_argument.
  void Add(std::string method, std::string pattern, Handler handler);

  struct Match {
    const Handler* handler = nullptr;  // set when status == 200
    int status = 404;                  // 200 matched, 404 no such path, 405 wrong method
    std::string allow;                 // 405: the methods the path takes, "GET, POST"
    std::map<std::string, std::string> params;
  };
  Match Find(std::string_view method, std::string_view path) const;

  // Routes `request` (by method and path), fills path_params and runs the
  // handler, turning exceptions into 500. For HEAD the caller drops the body.
  HttpResponse Dispatch(HttpRequest& request) const;
  // The second half of Dispatch, for callers that Find under a lock and run
  // the handler (a copy of *match.handler) outside it.
  static HttpResponse Respond(Match match, const Handler& handler, HttpRequest& request);

 private:
  struct Segment {
    enum class Kind { kLiteral, kParam, kRest } kind;
    std::string text;  // the literal, or the parameter name
  };
  struct Route {
    std::string method;
    std::string pattern;
    std::vector<Segment> segments;
    Handler handler;
  };
  static bool MatchRoute(const Route& route, const std::vector<std::string_view>& parts,
                         std::map<std::string, std::string>* params);
  // True when a is more specific than b.
  static bool MoreSpecific(const Route& a, const Route& b);

  std::vector<Route> routes_;
};

}  // namespace linkwatch::http
