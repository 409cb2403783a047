#include "agent/net/curl_init.h"

#include <curl/curl.h>

#include <mutex>

namespace linkwatch::net {

void EnsureCurlInitialized() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

}  // namespace linkwatch::net
