#include "origin_guard.h"

namespace edgevl_server {

namespace {

// "127.0.0.1:8080" -> "127.0.0.1", "[::1]:8080" -> "::1", "localhost" -> "localhost".
std::string host_name(const std::string& host) {
  if (!host.empty() && host[0] == '[') {
    const size_t close = host.find(']');
    return close == std::string::npos ? host : host.substr(1, close - 1);
  }
  const size_t colon = host.rfind(':');
  return colon == std::string::npos ? host : host.substr(0, colon);
}

}  // namespace

bool is_loopback_host(const std::string& h) {
  return h == "localhost" || h == "::1" || h.rfind("127.", 0) == 0;
}

std::string check_origin(const OriginPolicy& policy, const std::string& host, const std::string& origin) {
  if (policy.loopback_only && !host.empty() && !is_loopback_host(host_name(host)))
    return "this server answers only requests addressed to this machine (Host: 127.0.0.1 or localhost)";
  // The page the server serves itself sends Origin http://<Host>; anything else is
  // another site's page.
  if (!origin.empty() && origin != "http://" + host) return "cross-origin requests are not accepted";
  return "";
}

}  // namespace edgevl_server
