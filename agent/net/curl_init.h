// EnsureCurlInitialized: curl_global_init exactly once per process, before the
// first curl handle of any client (HTTP, SMTP) is made. Thread-safe.
#pragma once

namespace linkwatch::net {

void EnsureCurlInitialized();

}  // namespace linkwatch::net
