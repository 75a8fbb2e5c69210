// Whether the client of a request is still there. httplib (0.11, Debian 12) gives a
// handler no access to its connection, and a client that gives up shows nothing until
// the server writes to it, which a non-streaming request (or a streaming one still in
// prefill) does only at the end. So the handler finds the connection's socket by its
// addresses (the TCP 4-tuple is unique) and polls it for the peer's hang-up while the
// generation runs, to abort work nobody will read.
#pragma once
#include <string>

namespace edgevl_server {

// The descriptor of this process's TCP socket with these local and peer addresses
// (numeric, as httplib reports them), or -1 when none is found. The socket stays open
// while the request's handler runs, so the descriptor is valid for that long.
int find_connection_fd(const std::string& local_addr, int local_port, const std::string& remote_addr, int remote_port);

// True when the peer has closed or reset the connection (checked without blocking).
bool peer_hung_up(int fd);

// Makes the server read nothing more from the connection: the answer still goes out, then
// httplib sees the end of the stream and closes it. For a request refused before its body
// is read: httplib would otherwise keep the connection alive and read the unread body as
// the next request (its "Connection: close" response header does not stop that).
void stop_reading(int fd);

}  // namespace edgevl_server
