#include "agent/net/entra_token.h"

#include <charconv>
#include <nlohmann/json.hpp>
#include <utility>

#include "agent/core/text.h"

namespace linkwatch::net {
namespace {

constexpr std::string_view kRedacted = "<redacted>";

// Entra ID answers expires_in as a number (v2.0) or a numeric string (v1.0).
std::optional<double> Seconds(const nlohmann::json& v) {
  if (v.is_number()) return v.get<double>();
  if (v.is_string()) {
    const std::string& s = v.get_ref<const std::string&>();
    double d = 0;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), d);
    if (ec == std::errc() && end == s.data() + s.size()) return d;
  }
  return std::nullopt;
}

std::string ReplaceAll(std::string text, std::string_view what, std::string_view with) {
  if (what.empty()) return text;
  for (size_t at = text.find(what); at != std::string::npos;
       at = text.find(what, at + with.size())) {
    text.replace(at, what.size(), with);
  }
  return text;
}

}  // namespace

EntraToken::EntraToken(EntraSettings settings, HttpClient& client, const Clock& clock)
    : settings_(std::move(settings)), client_(client), clock_(clock) {}

std::string EntraToken::TokenUrl() const {
  std::string authority = settings_.authority;
  while (!authority.empty() && authority.back() == '/') authority.pop_back();
  return authority + "/" + PercentEncode(settings_.tenant_id) + "/oauth2/v2.0/token";
}

std::string EntraToken::Redact(std::string text) const {
  text = ReplaceAll(std::move(text), settings_.client_secret.Reveal(), kRedacted);
  return ReplaceAll(std::move(text), token_, kRedacted);
}

Result<std::string> EntraToken::Get(bool refresh) {
  if (!refresh && !token_.empty() && clock_.Now() + kRefreshMargin < expires_at_) return token_;
  return Fetch();
}

Result<std::string> EntraToken::Fetch() {
  const std::string where = "token request to " + TokenUrl();
  OutboundRequest req;
  req.method = "POST";
  req.url = TokenUrl();
  req.timeout = settings_.timeout;
  req.headers = {{"Content-Type", "application/x-www-form-urlencoded"},
                 {"Accept", "application/json"}};
  req.body = "grant_type=client_credentials&client_id=" + PercentEncode(settings_.client_id) +
             "&client_secret=" + PercentEncode(settings_.client_secret.Reveal()) +
             "&scope=" + PercentEncode(settings_.scope);
  const TimePoint asked = clock_.Now();
  const OutboundResponse res = client_.Send(req);
  if (!res.answered()) return Status::Error(where + ": " + Redact(res.error_message));
  const auto body = nlohmann::json::parse(res.body, nullptr, /*allow_exceptions=*/false);
  if (res.status != 200) {
    // {"error": "invalid_client", "error_description": "AADSTS7000215: ..."}
    std::string detail = "HTTP " + std::to_string(res.status);
    if (body.is_object() && body.contains("error") && body["error"].is_string()) {
      detail += ": " + body["error"].get<std::string>();
      if (body.contains("error_description") && body["error_description"].is_string()) {
        // Entra appends trace and correlation ids on further lines.
        std::string description = body["error_description"].get<std::string>();
        description = description.substr(0, description.find_first_of("\r\n"));
        detail += ": " + description;
      }
    }
    if (auto after = res.Header("Retry-After"); res.status == 429 && after) {
      detail += " (Retry-After: " + *after + ")";
    }
    return Status::Error(where + ": " + Redact(detail));
  }
  if (!body.is_object()) return Status::Error(where + ": the answer is not a JSON object");
  const auto type = body.find("token_type");
  const auto token = body.find("access_token");
  const auto expires = body.find("expires_in");
  if (type == body.end() || !type->is_string() ||
      !EqualsIgnoreCase(type->get<std::string>(), "Bearer")) {
    return Status::Error(where + ": the answer has no token_type \"Bearer\"");
  }
  if (token == body.end() || !token->is_string() || token->get<std::string>().empty()) {
    return Status::Error(where + ": the answer has no access_token");
  }
  const std::optional<double> seconds = expires == body.end() ? std::nullopt : Seconds(*expires);
  if (!seconds || *seconds <= 0 || *seconds > 7 * 24 * 3600) {
    return Status::Error(where + ": the answer has no usable expires_in");
  }
  token_ = token->get<std::string>();
  // Counted from when it was asked for: the answer may have been slow.
  expires_at_ =
      asked + std::chrono::duration_cast<Duration>(std::chrono::duration<double>(*seconds));
  return token_;
}

Result<OutboundResponse> EntraToken::SendAuthorized(OutboundRequest request) {
  const size_t auth_at = request.headers.size();
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto token = Get(/*refresh=*/attempt > 0);
    if (!token.ok()) return token.status();
    request.headers.resize(auth_at);
    request.headers.emplace_back("Authorization", "Bearer " + *token);
    OutboundResponse res = client_.Send(request);
    if (!res.answered() || res.status != 401 || attempt > 0) {
      res.error_message = Redact(std::move(res.error_message));
      return res;
    }
  }
  return Status::Error("unreachable");  // the loop returns on its second pass
}

}  // namespace linkwatch::net
