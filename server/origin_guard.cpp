#include "origin_guard.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <cctype>
#include <cstring>

namespace edgevl_server {

namespace {

bool all_digits(const std::string& s) {
  return !s.empty() && s.size() <= 5 && std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c); });
}

}  // namespace

std::string host_of_header(const std::string& h) {
  if (!h.empty() && h[0] == '[') {
    const size_t close = h.find(']');
    if (close == std::string::npos) return "";
    const std::string rest = h.substr(close + 1);
    if (!rest.empty() && (rest[0] != ':' || !all_digits(rest.substr(1)))) return "";
    return h.substr(1, close - 1);
  }
  const size_t colon = h.find(':');
  if (colon == std::string::npos) return h;
  if (h.find(':', colon + 1) != std::string::npos) return h;  // a bare IPv6 address, no port
  return all_digits(h.substr(colon + 1)) ? h.substr(0, colon) : "";
}

bool is_loopback_host(const std::string& h) {
  std::string lower(h);
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  if (lower == "localhost") return true;
  // inet_pton takes exactly four decimal parts for AF_INET (no shorthand, no hex), so
  // a name that merely starts with "127." is not an address.
  in_addr v4;
  if (inet_pton(AF_INET, h.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6;
  if (inet_pton(AF_INET6, h.c_str(), &v6) == 1) return std::memcmp(&v6, &in6addr_loopback, sizeof v6) == 0;
  return false;
}

std::string check_origin(const OriginPolicy& policy, const std::string& host, const std::string& origin) {
  if (policy.loopback_only && !host.empty() && !is_loopback_host(host_of_header(host)))
    return "this server answers only requests addressed to this machine (Host: 127.0.0.1, [::1] or localhost)";
  // The page the server serves itself sends Origin http://<Host>; anything else is
  // another site's page.
  if (!origin.empty() && origin != "http://" + host) return "cross-origin requests are not accepted";
  return "";
}

}  // namespace edgevl_server
