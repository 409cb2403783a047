// The keys of an Entra ID app registration in a YAML block: `tenant_id`,
// `client_id`, `client_secret` (a secret: plain, {env: NAME} or
// {file: PATH}) and the optional `authority` (an http(s) URL). One reader for
// every block that signs in with client credentials: the dataverse watch and
// sync sources (agent/dataverse/settings.h) and email's Graph transport.
#pragma once

#include <string>
#include <vector>

#include "agent/net/entra_token.h"

namespace YAML {
class Node;
}

namespace linkwatch {
class Problems;
}

namespace linkwatch::net {

// tenant_id, client_id, client_secret, authority.
const std::vector<std::string>& EntraKeys();

// Fills `out` from `spec`, adding a problem (file:line:column, the block
// named by `what`) for each key missing or wrong; returns whether it added
// none. `base_dir` resolves a {file: ...} secret.
bool ReadEntraSettings(const YAML::Node& spec, const std::string& what, const std::string& base_dir,
                       Problems& problems, EntraSettings& out);

// Whether `url` is an http:// or https:// URL.
bool IsHttpUrl(const std::string& url);

}  // namespace linkwatch::net
