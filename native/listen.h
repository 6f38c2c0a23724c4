// Named AF_UNIX sockets of the calling process: socket, bind, listen,
// connect and accept4. connect and accept4 may sleep (a full backlog, an
// empty queue): they are restartable Calls on the pool (wait.h) or sleep on
// the calling thread (here.h). Neither has a per-call "don't wait" flag
// (net/unix/af_unix.c: unix_stream_connect and unix_accept read O_NONBLOCK
// from the description), so their plain forms here are only for callers
// that know the call cannot sleep (host/native/listen.ts says when).
#pragma once

#include <node_api.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <string>
#include <vector>

namespace ipcemu {

struct AddonState;

// A socket name as the kernel takes it: a path (NUL-terminated when there is
// room), an abstract name (a leading NUL; its length is all of it), or ''
// (the family alone: bind autobinds, connect and sendto answer EINVAL).
class UnixAddress {
 public:
  explicit UnixAddress(const std::string& name);
  const struct sockaddr* Get() const { return reinterpret_cast<const struct sockaddr*>(bytes_.data()); }
  socklen_t Length() const { return length_; }

 private:
  std::vector<char> bytes_;
  socklen_t length_;
};

// A socket name from JavaScript: a path without NUL bytes, an abstract name
// (any bytes after its leading NUL), or '' (TypeError otherwise).
bool ArgSocketName(napi_env env, napi_value value, std::string* name);

// The name in an address the kernel filled (getsockname, recvfrom): '' when
// unnamed; a path up to its NUL; an abstract name whole.
std::string NameOf(const struct sockaddr_un& address, socklen_t length);

// Adds socket, bind, listen, connect, connectStart, connectHere, accept4,
// accept4Start and accept4Here to `exports`; each function's data is `state`.
napi_status DefineListen(napi_env env, napi_value exports, AddonState* state);

}  // namespace ipcemu
