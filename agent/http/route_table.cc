#include "agent/http/route_table.h"

#include <spdlog/spdlog.h>

#include <exception>
#include <set>
#include <stdexcept>

namespace linkwatch::http {
namespace {

// "/a/b" -> {"a", "b"}; "/" -> {}; "/a/" -> {"a", ""}.
std::vector<std::string_view> SplitPath(std::string_view path) {
  std::vector<std::string_view> parts;
  if (path.size() <= 1) return parts;
  path.remove_prefix(1);
  while (true) {
    const size_t slash = path.find('/');
    parts.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return parts;
}

}  // namespace

void RouteTable::Add(std::string method, std::string pattern, Handler handler) {
  if (pattern.empty() || pattern.front() != '/') {
    throw std::invalid_argument("route pattern must start with '/': " + pattern);
  }
  Route route;
  const auto parts = SplitPath(pattern);
  for (size_t i = 0; i < parts.size(); ++i) {
    const std::string_view p = parts[i];
    if (p == "*") {
      if (i + 1 != parts.size()) {
        throw std::invalid_argument("'*' must be the last segment: " + pattern);
      }
      route.segments.push_back({Segment::Kind::kRest, "*"});
    } else if (p.size() >= 2 && p.front() == '{' && p.back() == '}') {
      route.segments.push_back({Segment::Kind::kParam, std::string(p.substr(1, p.size() - 2))});
    } else {
      route.segments.push_back({Segment::Kind::kLiteral, std::string(p)});
    }
  }
  route.method = std::move(method);
  route.pattern = std::move(pattern);
  route.handler = std::move(handler);
  routes_.push_back(std::move(route));
}

bool RouteTable::MatchRoute(const Route& route, const std::vector<std::string_view>& parts,
                            std::map<std::string, std::string>* params) {
  params->clear();
  const auto& segs = route.segments;
  for (size_t i = 0; i < segs.size(); ++i) {
    if (segs[i].kind == Segment::Kind::kRest) {
      std::string rest;
      for (size_t j = i; j < parts.size(); ++j) {
        if (j > i) rest += '/';
        rest.append(parts[j]);
      }
      (*params)["*"] = std::move(rest);
      return true;
    }
    if (i >= parts.size()) return false;
    if (segs[i].kind == Segment::Kind::kLiteral) {
      if (segs[i].text != parts[i]) return false;
    } else {
      if (parts[i].empty()) return false;
      (*params)[segs[i].text] = std::string(parts[i]);
    }
  }
  return segs.size() == parts.size();
}

bool RouteTable::MoreSpecific(const Route& a, const Route& b) {
  const size_t n = std::min(a.segments.size(), b.segments.size());
  for (size_t i = 0; i < n; ++i) {
    if (a.segments[i].kind != b.segments[i].kind) {
      return static_cast<int>(a.segments[i].kind) < static_cast<int>(b.segments[i].kind);
    }
  }
  if (a.segments.size() == b.segments.size()) return false;
  // Routes of different lengths both match only through a trailing "*":
  // the one that needs it is the less specific.
  const bool a_longer = a.segments.size() > b.segments.size();
  const Route& longer = a_longer ? a : b;
  const bool longer_is_rest = longer.segments[n].kind == Segment::Kind::kRest;
  return a_longer != longer_is_rest;
}

RouteTable::Match RouteTable::Find(std::string_view method, std::string_view path) const {
  Match match;
  const auto parts = SplitPath(path);
  const Route* best = nullptr;
  std::set<std::string> allowed;
  std::map<std::string, std::string> params;
  // HEAD is answered by the GET route unless a HEAD route exists.
  const Route* best_get = nullptr;
  std::map<std::string, std::string> get_params;
  for (const Route& route : routes_) {
    if (!MatchRoute(route, parts, &params)) continue;
    allowed.insert(route.method);
    if (route.method == method) {
      if (best == nullptr || MoreSpecific(route, *best)) {
        best = &route;
        match.params = params;
      }
    } else if (method == "HEAD" && route.method == "GET") {
      if (best_get == nullptr || MoreSpecific(route, *best_get)) {
        best_get = &route;
        get_params = params;
      }
    }
  }
  if (best == nullptr && best_get != nullptr) {
    best = best_get;
    match.params = std::move(get_params);
  }
  if (best != nullptr) {
    match.status = 200;
    match.handler = &best->handler;
    return match;
  }
  if (allowed.empty()) {
    match.status = 404;
    return match;
  }
  match.status = 405;
  if (allowed.count("GET")) allowed.insert("HEAD");
  for (const auto& m : allowed) {
    if (!match.allow.empty()) match.allow += ", ";
    match.allow += m;
  }
  return match;
}

HttpResponse RouteTable::Dispatch(HttpRequest& request) const {
  Match match = Find(request.method, request.path);
  const Handler* handler = match.handler;
  static const Handler kNone;
  return Respond(std::move(match), handler != nullptr ? *handler : kNone, request);
}

HttpResponse RouteTable::Respond(Match match, const Handler& handler, HttpRequest& request) {
  if (match.status == 405) {
    HttpResponse r =
        HttpResponse::Error(405, "method " + request.method + " not allowed for " + request.path);
    r.headers.emplace_back("Allow", match.allow);
    return r;
  }
  if (match.status != 200 || !handler) {
    return HttpResponse::Error(404, "no such path: " + request.path);
  }
  request.path_params = std::move(match.params);
  try {
    return handler(request);
  } catch (const std::exception& e) {
    spdlog::error("http: {} {} failed: {}", request.method, request.path, e.what());
  } catch (...) {
    spdlog::error("http: {} {} failed with an unknown exception", request.method, request.path);
  }
  return HttpResponse::Error(500, "internal server error");
}

}  // namespace linkwatch::http
