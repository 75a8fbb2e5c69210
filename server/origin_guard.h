// Browser-facing protection for a server that listens on this machine. A web page from
// another site can make the browser POST to 127.0.0.1 (the server reads JSON whatever the
// content type, so "simple" cross-site requests would reach it), and with DNS rebinding
// it can even read the answers. So: a request that carries an Origin must come from the
// server's own page, and when the server is bound to a loopback address the Host header
// must name this machine exactly: a real 127.x.y.z dotted quad, ::1 or "localhost"
// ("127.attacker.example" is a name anyone can point anywhere, not a loopback address).
#pragma once
#include <string>

namespace edgevl_server {

struct OriginPolicy {
  bool loopback_only = true;  // bound to a loopback address
};

// "" when the request may proceed, else why not.
std::string check_origin(const OriginPolicy& policy, const std::string& host_header, const std::string& origin_header);

// True for a loopback address or name: "localhost" (any case), a dotted quad in
// 127.0.0.0/8, or the IPv6 loopback (::1, bracketed or not). No port.
bool is_loopback_host(const std::string& host);

// The host part of a Host header value: "127.0.0.1:8080" -> "127.0.0.1",
// "[::1]:8080" -> "::1", "localhost" -> "localhost". "" when the value is malformed
// (e.g. a port that is not a number, an unclosed bracket).
std::string host_of_header(const std::string& host_header);

}  // namespace edgevl_server
