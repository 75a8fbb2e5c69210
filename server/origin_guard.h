// Browser-facing protection for a server that listens on this machine. A web page from
// another site can make the browser POST to 127.0.0.1 (the server reads JSON whatever the
// content type, so "simple" cross-site requests would reach it), and with DNS rebinding
// it can even read the answers. So: a request that carries an Origin must come from the
// server's own page, and when the server is bound to a loopback address the Host header
// must name this machine.
#pragma once
#include <string>

namespace edgevl_server {

struct OriginPolicy {
  bool loopback_only = true;  // bound to 127.0.0.1 / localhost / ::1
};

// "" when the request may proceed, else why not.
std::string check_origin(const OriginPolicy& policy, const std::string& host_header, const std::string& origin_header);

bool is_loopback_host(const std::string& host);

}  // namespace edgevl_server
