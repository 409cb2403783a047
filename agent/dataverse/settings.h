// The connection block shared by every YAML block that reaches a Dataverse
// environment (the `dataverse` watch source and the `dataverse` sync
// source): `url`, `tenant_id`, `client_id`, `client_secret` (a secret:
// plain, {env: NAME} or {file: PATH}), optional `authority` and
// `page_size`. One reader, so that both blocks take the same keys with the
// same messages.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "agent/core/typed_block.h"
#include "agent/dataverse/web_api_client.h"

namespace YAML {
class Node;
}

namespace linkwatch::dataverse {

// The keys ReadConnection reads (for a block's CheckKeys).
const std::vector<std::string>& ConnectionKeys();

// The block's connection settings; nullopt with problems in ctx.problems
// when a key is missing or wrong.
std::optional<WebApiSettings> ReadConnection(const YAML::Node& spec, const BlockContext& ctx);

}  // namespace linkwatch::dataverse
