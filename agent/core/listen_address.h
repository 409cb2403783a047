// The http.listen address: parsed and checked in one place, so that
// check-config (through config loading) refuses exactly what the HTTP server
// would refuse at start (issue 7 point 12). Thread-safe (pure functions).
#pragma once

#include <string>
#include <utility>

#include "agent/core/status.h"

namespace linkwatch {

// Splits "127.0.0.1:9464", "0.0.0.0:9464", "[::1]:0", "localhost:80" into
// host and port. An error for a missing or out-of-range port.
Result<std::pair<std::string, int>> ParseListenAddress(const std::string& listen);

// The host is one the server can bind: an IPv4/IPv6 literal, or a name
// that resolves (getaddrinfo, as the server's resolver does). Text that
// looks like an IPv4 address ("999.1.1.1") must be a valid one; it is never
// looked up as a name.
Status CheckListenHost(const std::string& host);

// The URL a local client reaches a server listening on `listen` at: the
// host (a wildcard 0.0.0.0 / [::] becomes loopback) and `port` (the bound
// port; -1 for the one in `listen`). "http://127.0.0.1:9464/".
std::string LocalUrl(const std::string& listen, int port = -1);

}  // namespace linkwatch
