#include "agent/http/http_types.h"

#include <nlohmann/json.hpp>

#include "agent/core/secret.h"
#include "agent/core/text.h"

namespace linkwatch::http {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Compares every byte of the longer input, so the time depends only on the
// lengths, never on where the inputs first differ.
bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  const size_t n = std::max(a.size(), b.size());
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < n; ++i) {
    const unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    const unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
    diff |= static_cast<unsigned char>(x ^ y);
  }
  return diff == 0;
}

}  // namespace

bool CaseInsensitiveLess::operator()(std::string_view a, std::string_view b) const {
  return LessIgnoreCase(a, b);
}

const std::string& HttpRequest::Header(std::string_view name) const {
  static const std::string kEmpty;
  auto it = headers.find(name);
  return it == headers.end() ? kEmpty : it->second;
}

std::vector<std::string> HttpRequest::QueryValues(const std::string& name) const {
  std::vector<std::string> out;
  for (const auto& [k, v] : query_list) {
    if (k == name) out.push_back(v);
  }
  return out;
}

std::string HttpRequest::Query(const std::string& name, std::string fallback) const {
  auto it = query.find(name);
  return it == query.end() ? fallback : it->second;
}

std::string HttpRequest::Param(const std::string& name) const {
  auto it = path_params.find(name);
  return it == path_params.end() ? std::string() : it->second;
}

HttpResponse HttpResponse::Text(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

HttpResponse HttpResponse::Json(int status, std::string json) {
  HttpResponse r;
  r.status = status;
  r.content_type = "application/json";
  r.body = std::move(json);
  return r;
}

HttpResponse HttpResponse::Error(int status, std::string_view message) {
  nlohmann::json j = {{"error", std::string(message)}};
  // Replace invalid UTF-8 (e.g. echoed from a request) instead of throwing.
  return Json(status, j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

bool MatchesSecret(std::string_view presented, const Secret& secret) {
  return !secret.empty() && ConstantTimeEquals(presented, secret.Reveal());
}

bool CheckBearer(const HttpRequest& request, const Secret& token) {
  if (token.empty()) return false;
  const std::string& auth = request.Header("Authorization");
  constexpr std::string_view kScheme = "bearer ";
  if (auth.size() < kScheme.size()) return false;
  for (size_t i = 0; i < kScheme.size(); ++i) {
    if (AsciiToLower(auth[i]) != kScheme[i]) return false;
  }
  std::string_view presented = std::string_view(auth).substr(kScheme.size());
  while (!presented.empty() && presented.front() == ' ') presented.remove_prefix(1);
  while (!presented.empty() && presented.back() == ' ') presented.remove_suffix(1);
  return MatchesSecret(presented, token);
}

HttpResponse Unauthorized() {
  HttpResponse r = HttpResponse::Error(401, "missing or wrong bearer token");
  r.headers.emplace_back("WWW-Authenticate", "Bearer");
  return r;
}

bool PercentDecode(std::string_view in, bool plus_is_space, std::string* out) {
  out->clear();
  out->reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    const char c = in[i];
    if (c == '%') {
      if (i + 2 >= in.size()) return false;
      const int hi = HexValue(in[i + 1]), lo = HexValue(in[i + 2]);
      if (hi < 0 || lo < 0) return false;
      out->push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out->push_back(' ');
    } else {
      out->push_back(c);
    }
  }
  return true;
}

bool ParseTarget(std::string_view target, std::string* path,
                 std::map<std::string, std::string>* query,
                 std::vector<std::pair<std::string, std::string>>* all) {
  if (target.empty() || target.front() != '/') return false;
  const size_t q = target.find('?');
  std::string_view raw_path = target.substr(0, q);
  // A fragment never reaches a server, but tolerate one.
  if (const size_t h = raw_path.find('#'); h != std::string_view::npos) {
    raw_path = raw_path.substr(0, h);
  }
  if (!PercentDecode(raw_path, false, path)) return false;
  query->clear();
  if (all != nullptr) all->clear();
  if (q == std::string_view::npos) return true;
  std::string_view rest = target.substr(q + 1);
  if (const size_t h = rest.find('#'); h != std::string_view::npos) rest = rest.substr(0, h);
  while (!rest.empty()) {
    const size_t amp = rest.find('&');
    std::string_view pair = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
    if (pair.empty()) continue;
    const size_t eq = pair.find('=');
    std::string key, value;
    if (!PercentDecode(pair.substr(0, eq), true, &key)) return false;
    if (eq != std::string_view::npos && !PercentDecode(pair.substr(eq + 1), true, &value)) {
      return false;
    }
    if (all != nullptr) all->emplace_back(key, value);
    query->emplace(std::move(key), std::move(value));  // first value wins
  }
  return true;
}

}  // namespace linkwatch::http
