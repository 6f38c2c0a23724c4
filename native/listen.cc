#include "listen.h"

#include <stddef.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "addon.h"
#include "errors.h"
#include "here.h"
#include "pipe.h"
#include "wait.h"

namespace ipcemu {

namespace {

// A sockaddr_un for `path`, built in a buffer sized to the path so that no
// length overflows sun_path. The length handed to the kernel counts the
// terminating NUL while it fits in a struct sockaddr_un; a path of exactly
// sizeof(sun_path) bytes goes without it (Linux accepts that:
// net/unix/af_unix.c: unix_mkname_bsd terminates the copy it made), and a
// longer one is passed with its real length, so the kernel answers it
// (unix_validate_addr: EINVAL above sizeof(struct sockaddr_un)).
struct ConnectArgs {
  int fd;
  const UnixAddress* address;
};

// AF_UNIX connect may be entered again after EINTR: unix_stream_connect
// leaves the socket SS_UNCONNECTED until it succeeds, so a re-entry (a stray
// signal, a quiesce) is the same call, not EALREADY as on TCP.
int64_t ConnectOnce(void* context) {
  auto* a = static_cast<ConnectArgs*>(context);
  return connect(a->fd, a->address->Get(), a->address->Length()) == 0 ? 0 : -errno;
}

struct AcceptArgs {
  int fd;
  int flags;
};

int64_t AcceptOnce(void* context) {
  auto* a = static_cast<AcceptArgs*>(context);
  int r = accept4(a->fd, nullptr, nullptr, a->flags);
  return r >= 0 ? r : -errno;
}

// Both sleep in unix_wait_for_peer / skb_recv_datagram and answer
// sock_intr_errno(timeo): -ERESTARTSYS without SO_SNDTIMEO/SO_RCVTIMEO, so
// a handler with SA_RESTART restarts them.
class ConnectCall : public Call {
 public:
  ConnectCall(int fd, const std::string& path) : fd_(fd), address_(path) {}
  int64_t Run() override {
    ConnectArgs args{fd_, &address_};
    return ConnectOnce(&args);
  }
  bool Restartable() const override { return true; }
  napi_status Settle(napi_env env, napi_value settle) override {
    return SettleCall(env, settle, handle, result, nullptr, 0);
  }

 private:
  int fd_;
  UnixAddress address_;
};

class AcceptCall : public Call {
 public:
  AcceptCall(int fd, int flags) : args_{fd, flags} {}
  int64_t Run() override { return AcceptOnce(&args_); }
  bool Restartable() const override { return true; }
  napi_status Settle(napi_env env, napi_value settle) override {
    return SettleCall(env, settle, handle, result, nullptr, 0);
  }

 private:
  AcceptArgs args_;
};

// socket(domain, type, protocol) → fd or -errno
napi_value Socket(napi_env env, napi_callback_info info) {
  FdArgs a(env, info);
  int32_t domain, type, protocol;
  if (!ArgInt(env, a.argv[0], "domain", &domain) || !ArgInt(env, a.argv[1], "type", &type) ||
      !ArgInt(env, a.argv[2], "protocol", &protocol)) {
    return nullptr;
  }
  int fd = socket(domain, type, protocol);
  return Result(env, fd >= 0 ? fd : -errno);
}

// fd and a socket name.
bool FdPath(napi_env env, FdArgs& a, int32_t* fd, std::string* name) {
  return ArgInt(env, a.argv[0], "fd", fd) && ArgSocketName(env, a.argv[1], name);
}

// bind(fd, path) → 0 or -errno
napi_value Bind(napi_env env, napi_callback_info info) {
  FdArgs a(env, info);
  int32_t fd;
  std::string path;
  if (!FdPath(env, a, &fd, &path)) return nullptr;
  UnixAddress address(path);
  return Result(env, bind(fd, address.Get(), address.Length()) == 0 ? 0 : -errno);
}

// getname(fd, peer) → the name (getsockname; getpeername when peer is 1) or
// -errno. Unnamed: ''. A path ends at its NUL; an abstract name (a leading
// NUL) is all the bytes the kernel gave.
napi_value Getname(napi_env env, napi_callback_info info) {
  FdArgs a(env, info);
  int32_t fd, peer;
  if (!ArgInt(env, a.argv[0], "fd", &fd) || !ArgInt(env, a.argv[1], "peer", &peer)) return nullptr;
  struct sockaddr_un address;
  socklen_t length = sizeof address;
  int r = peer != 0 ? getpeername(fd, reinterpret_cast<struct sockaddr*>(&address), &length)
                    : getsockname(fd, reinterpret_cast<struct sockaddr*>(&address), &length);
  if (r != 0) return Result(env, -errno);
  const std::string text = NameOf(address, length);
  napi_value name;
  if (napi_create_string_utf8(env, text.data(), text.size(), &name) != napi_ok) return nullptr;
  return name;
}

// listen(fd, backlog) → 0 or -errno
napi_value Listen(napi_env env, napi_callback_info info) {
  FdArgs a(env, info);
  int32_t fd, backlog;
  if (!ArgInt(env, a.argv[0], "fd", &fd) || !ArgInt(env, a.argv[1], "backlog", &backlog)) return nullptr;
  return Result(env, listen(fd, backlog) == 0 ? 0 : -errno);
}

// A connect on this thread (sleep: as a call that may sleep, which a signal can end).
napi_value ConnectOnThisThread(napi_env env, napi_callback_info info, bool sleep) {
  FdArgs a(env, info);
  int32_t fd;
  std::string path;
  if (!FdPath(env, a, &fd, &path)) return nullptr;
  UnixAddress address(path);
  ConnectArgs args{fd, &address};
  return Result(env, sleep ? RunHere(ConnectOnce, &args, true) : ConnectOnce(&args));
}

// connect(fd, path) → 0 or -errno, on this thread: only where it cannot sleep (O_NONBLOCK).
napi_value Connect(napi_env env, napi_callback_info info) {
  return ConnectOnThisThread(env, info, false);
}

// connectBrief(fd, path) → 0 or -errno: a blocking connect that waits one
// clock tick at most. SO_SNDTIMEO is the wait unix_stream_connect allows a
// full backlog (the smallest, 1 µs, is one jiffy); once it passes the call
// answers EAGAIN instead of sleeping on. The socket's own timeout is put back.
napi_value ConnectBrief(napi_env env, napi_callback_info info) {
  FdArgs a(env, info);
  int32_t fd;
  std::string path;
  if (!FdPath(env, a, &fd, &path)) return nullptr;
  struct timeval old;
  socklen_t length = sizeof old;
  if (getsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &old, &length) != 0) return Result(env, -errno);
  const struct timeval tick = {0, 1};
  if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tick, sizeof tick) != 0) return Result(env, -errno);
  UnixAddress address(path);
  ConnectArgs args{fd, &address};
  int64_t r = ConnectOnce(&args);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &old, sizeof old);
  return Result(env, r);
}

// connectStart(fd, path) → a handle; settle(handle, 0 or -errno) later.
napi_value ConnectStart(napi_env env, napi_callback_info info) {
  FdArgs a(env, info);
  int32_t fd;
  std::string path;
  if (!FdPath(env, a, &fd, &path) || !ReadyForCall(env, a.state)) return nullptr;
  return StartedCall(env, a.state->pool.Start(std::make_unique<ConnectCall>(fd, path)));
}

// connectHere(fd, path) → 0 or -errno; sleeps on this thread.
napi_value ConnectHere(napi_env env, napi_callback_info info) {
  return ConnectOnThisThread(env, info, true);
}

bool FdFlags(napi_env env, FdArgs& a, AcceptArgs* out) {
  int32_t fd, flags;
  if (!ArgInt(env, a.argv[0], "fd", &fd) || !ArgInt(env, a.argv[1], "flags", &flags)) return false;
  *out = AcceptArgs{fd, flags};
  return true;
}

// accept4(fd, flags) → fd or -errno, on this thread: only where it cannot sleep.
// An accept4 on this thread (sleep: as a call that may sleep, which a signal can end).
napi_value AcceptOnThisThread(napi_env env, napi_callback_info info, bool sleep) {
  FdArgs a(env, info);
  AcceptArgs args;
  if (!FdFlags(env, a, &args)) return nullptr;
  return Result(env, sleep ? RunHere(AcceptOnce, &args, true) : AcceptOnce(&args));
}

napi_value Accept4(napi_env env, napi_callback_info info) {
  return AcceptOnThisThread(env, info, false);
}

// accept4Start(fd, flags) → a handle; settle(handle, fd or -errno) later.
napi_value Accept4Start(napi_env env, napi_callback_info info) {
  FdArgs a(env, info);
  AcceptArgs args;
  if (!FdFlags(env, a, &args) || !ReadyForCall(env, a.state)) return nullptr;
  return StartedCall(env, a.state->pool.Start(std::make_unique<AcceptCall>(args.fd, args.flags)));
}

// accept4Here(fd, flags) → fd or -errno; sleeps on this thread.
napi_value Accept4Here(napi_env env, napi_callback_info info) {
  return AcceptOnThisThread(env, info, true);
}

// acceptConn(fd, out: Float64Array(1)) → 0 or -errno; out[0] = SO_ACCEPTCONN
// (1: listening). EBADF / ENOTSOCK as accept4 would answer them.
napi_value AcceptConn(napi_env env, napi_callback_info info) {
  FdArgs a(env, info);
  int32_t fd;
  double* out;
  if (!ArgInt(env, a.argv[0], "fd", &fd) || !ArgDoubles(env, a.argv[1], "out", 1, &out)) return nullptr;
  int value = 0;
  socklen_t length = sizeof value;
  if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &value, &length) != 0) return Result(env, -errno);
  out[0] = value;
  return Result(env, 0);
}

}  // namespace

napi_status DefineListen(napi_env env, napi_value exports, AddonState* state) {
  const napi_property_descriptor functions[] = {
      {"socket", nullptr, Socket, nullptr, nullptr, nullptr, napi_enumerable, state},
      {"bind", nullptr, Bind, nullptr, nullptr, nullptr, napi_enumerable, state},
      {"listen", nullptr, Listen, nullptr, nullptr, nullptr, napi_enumerable, state},
      {"connect", nullptr, Connect, nullptr, nullptr, nullptr, napi_enumerable, state},
      {"getname", nullptr, Getname, nullptr, nullptr, nullptr, napi_enumerable, state},
      {"connectBrief", nullptr, ConnectBrief, nullptr, nullptr, nullptr, napi_enumerable, state},
      {"connectStart", nullptr, ConnectStart, nullptr, nullptr, nullptr, napi_enumerable, state},
      {"connectHere", nullptr, ConnectHere, nullptr, nullptr, nullptr, napi_enumerable, state},
      {"accept4", nullptr, Accept4, nullptr, nullptr, nullptr, napi_enumerable, state},
      {"accept4Start", nullptr, Accept4Start, nullptr, nullptr, nullptr, napi_enumerable, state},
      {"accept4Here", nullptr, Accept4Here, nullptr, nullptr, nullptr, napi_enumerable, state},
      {"acceptConn", nullptr, AcceptConn, nullptr, nullptr, nullptr, napi_enumerable, state},
  };
  return napi_define_properties(env, exports, sizeof functions / sizeof functions[0], functions);
}

UnixAddress::UnixAddress(const std::string& name) {
  const size_t base = offsetof(struct sockaddr_un, sun_path);
  const bool path = !name.empty() && name[0] != '\0';
  bytes_.assign(base + name.size() + 1 < sizeof(struct sockaddr_un) ? sizeof(struct sockaddr_un)
                                                                     : base + name.size() + 1,
                0);
  sa_family_t family = AF_UNIX;
  std::memcpy(bytes_.data(), &family, sizeof family);
  std::memcpy(bytes_.data() + base, name.data(), name.size());
  const bool terminated = path && base + name.size() < sizeof(struct sockaddr_un);
  length_ = static_cast<socklen_t>(base + name.size() + (terminated ? 1 : 0));
}

bool ArgSocketName(napi_env env, napi_value value, std::string* name) {
  size_t length = 0;
  if (napi_get_value_string_utf8(env, value, nullptr, 0, &length) != napi_ok) {
    napi_throw_type_error(env, nullptr, "path must be a string");
    return false;
  }
  name->resize(length + 1);
  napi_get_value_string_utf8(env, value, &(*name)[0], length + 1, &length);
  name->resize(length);
  if (!name->empty() && (*name)[0] != '\0' && name->find('\0') != std::string::npos) {
    napi_throw_type_error(env, nullptr, "path must not contain NUL bytes");
    return false;
  }
  return true;
}

std::string NameOf(const struct sockaddr_un& address, socklen_t length) {
  const size_t base = offsetof(struct sockaddr_un, sun_path);
  size_t size = length > base ? length - base : 0;
  if (size > sizeof address.sun_path) size = sizeof address.sun_path;
  if (size > 0 && address.sun_path[0] != '\0') size = strnlen(address.sun_path, size);
  return std::string(address.sun_path, size);
}

}  // namespace ipcemu
