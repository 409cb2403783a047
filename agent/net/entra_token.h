// EntraToken: an access token from Microsoft Entra ID by the OAuth 2.0 client
// credentials grant (dataverse-web-api.md "Authentication"), for everything
// that calls a Microsoft API with an app registration: the Dataverse watch
// and sync sources, and mail through Microsoft Graph.
//
// * POST <authority>/<tenant_id>/oauth2/v2.0/token, form-encoded
//   grant_type=client_credentials, client_id, client_secret, scope; the
//   authority is configurable so that tests point it at an emulator.
// * The token is cached and fetched again when less than kRefreshMargin of
//   its lifetime is left, or when a call was refused with 401
//   (SendAuthorized: refresh once, send once more).
// * Errors name the token endpoint (authority and tenant) and Entra's own
//   error code and description, never the client secret or a token.
//
// Requests go through the caller's HttpClient (the one client), so an
// EntraToken is used from the thread that owns that client. Not
// thread-safe.
#pragma once

#include <optional>
#include <string>

#include "agent/core/clock.h"
#include "agent/core/secret.h"
#include "agent/core/status.h"
#include "agent/net/http_client.h"

namespace linkwatch::net {

struct EntraSettings {
  std::string authority = "https://login.microsoftonline.com";
  std::string tenant_id;
  std::string client_id;
  Secret client_secret;
  // "<environment url>/.default" for Dataverse,
  // "https://graph.microsoft.com/.default" for Graph.
  std::string scope;
  Millis timeout = kDefaultHttpTimeout;
};

class EntraToken {
 public:
  // Azure's own SDKs refresh five minutes before expiry.
  static constexpr Duration kRefreshMargin = std::chrono::minutes(5);

  EntraToken(EntraSettings settings, HttpClient& client, const Clock& clock);

  // The cached token, or a new one when it is (nearly) expired or `refresh`.
  Result<std::string> Get(bool refresh = false);

  // Sends `request` with "Authorization: Bearer <token>" added; a 401 answer
  // refreshes the token once and sends the request once more. The answer
  // (any status) is returned; only a failure to get a token is an error.
  Result<OutboundResponse> SendAuthorized(OutboundRequest request);

  // <authority>/<tenant_id>/oauth2/v2.0/token
  std::string TokenUrl() const;

 private:
  Result<std::string> Fetch();
  // `text` with the client secret and the current token blanked out.
  std::string Redact(std::string text) const;

  EntraSettings settings_;
  HttpClient& client_;
  const Clock& clock_;
  std::string token_;
  TimePoint expires_at_{};
};

}  // namespace linkwatch::net
