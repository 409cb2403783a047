#include "agent/core/listen_address.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>

namespace linkwatch {

Result<std::pair<std::string, int>> ParseListenAddress(const std::string& listen) {
  std::string host, port;
  if (!listen.empty() && listen.front() == '[') {
    const size_t close = listen.find(']');
    if (close == std::string::npos || close + 1 >= listen.size() || listen[close + 1] != ':') {
      return Status::Error("listen address \"" + listen + "\" must look like [::1]:9464");
    }
    host = listen.substr(1, close - 1);
    port = listen.substr(close + 2);
  } else {
    const size_t colon = listen.rfind(':');
    if (colon == std::string::npos) {
      return Status::Error("listen address \"" + listen + "\" needs a port, e.g. 127.0.0.1:9464");
    }
    host = listen.substr(0, colon);
    port = listen.substr(colon + 1);
    if (host.find(':') != std::string::npos) {
      return Status::Error("listen address \"" + listen +
                           "\": write IPv6 addresses in brackets, e.g. [::1]:9464");
    }
  }
  if (host.empty()) {
    return Status::Error("listen address \"" + listen +
                         "\" needs a host (0.0.0.0 must be asked for explicitly)");
  }
  if (port.empty() || port.size() > 5 ||
      port.find_first_not_of("0123456789") != std::string::npos || std::stoi(port) > 65535) {
    return Status::Error("listen address \"" + listen + "\": port must be 0-65535");
  }
  return std::make_pair(host, std::stoi(port));
}

Status CheckListenHost(const std::string& host) {
  unsigned char buf[sizeof(struct in6_addr)];
  if (inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1) {
    return Status::Ok();
  }
  if (host.find_first_not_of("0123456789.") == std::string::npos) {
    return Status::Error("\"" + host + "\" is not a valid IPv4 address");
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* res = nullptr;
  const int rc = getaddrinfo(host.c_str(), nullptr, &hints, &res);
  if (res) freeaddrinfo(res);
  if (rc != 0) return Status::Error("cannot resolve \"" + host + "\": " + gai_strerror(rc));
  return Status::Ok();
}

std::string LocalUrl(const std::string& listen, int port) {
  const size_t colon = listen.rfind(':');
  std::string host = listen.substr(0, colon);
  if (host == "0.0.0.0" || host.empty()) host = "127.0.0.1";
  if (host == "[::]") host = "[::1]";
  const std::string p = port >= 0 ? std::to_string(port)
                                  : (colon == std::string::npos ? "" : listen.substr(colon + 1));
  return "http://" + host + ":" + p + "/";
}

}  // namespace linkwatch
