#include "sock.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <new>

#include "addon.h"
#include "errors.h"
#include "here.h"
#include "listen.h"
#include "pipe.h"
#include "wait.h"

namespace ipcemu {

namespace {

// recv's count as the kernel uses it: net/socket.c: __sys_recvfrom() takes
// the length through import_ubuf(), which clamps it to MAX_RW_COUNT before
// access_ok, so a negative count (a huge size_t) receives as kMaxRw would.
// (read(2) differs: its access_ok sees the whole size and answers EFAULT.)
size_t RecvSize(int64_t count) { return static_cast<size_t>(count < 0 || count > kMaxRw ? kMaxRw : count); }

struct SendArgs {
  int fd;
  const uint8_t* data;
  size_t length;
  int flags;
  const UnixAddress* to;  // sendto's name, or null (send)
};

int64_t SendOnce(void* context) {
  auto* a = static_cast<SendArgs*>(context);
  ssize_t r = a->to == nullptr ? send(a->fd, a->data, a->length, a->flags | MSG_NOSIGNAL)
                               : sendto(a->fd, a->data, a->length, a->flags | MSG_NOSIGNAL, a->to->Get(), a->to->Length());
  return r >= 0 ? r : -errno;
}

struct RecvArgs {
  int fd;
  uint8_t* buf;
  size_t size;
  int flags;
  struct sockaddr_un* from;  // recvfrom's sender, or null (recv)
  socklen_t fromLength;
};

int64_t RecvOnce(void* context) {
  auto* a = static_cast<RecvArgs*>(context);
  ssize_t r;
  if (a->from == nullptr) {
    r = recv(a->fd, a->buf, a->size, a->flags);
  } else {
    a->fromLength = sizeof *a->from;
    r = recvfrom(a->fd, a->buf, a->size, a->flags, reinterpret_cast<struct sockaddr*>(a->from), &a->fromLength);
  }
  return r >= 0 ? r : -errno;
}

// The bytes recv copied: with MSG_TRUNC it answers a datagram's real size,
// which may pass the buffer's.
size_t Copied(int64_t result, size_t size) {
  return static_cast<size_t>(result) < size ? static_cast<size_t>(result) : size;
}

// [length, data] (recvfrom: [length, data, from]): recv's return value, the
// bytes it copied, and the sender's name.
napi_value Received(napi_env env, int64_t result, const RecvArgs& args) {
  napi_value out, length;
  napi_value data = NewByteArray(env, args.buf, Copied(result, args.size));
  if (data == nullptr) return nullptr;
  napi_create_array_with_length(env, args.from == nullptr ? 2 : 3, &out);
  napi_create_double(env, static_cast<double>(result), &length);
  napi_set_element(env, out, 0, length);
  napi_set_element(env, out, 1, data);
  if (args.from != nullptr) {
    const std::string name = NameOf(*args.from, args.fromLength);
    napi_value from;
    if (napi_create_string_utf8(env, name.data(), name.size(), &from) != napi_ok) return nullptr;
    napi_set_element(env, out, 2, from);
  }
  return out;
}

class SendCall : public Call {
 public:
  SendCall(int fd, int flags, std::unique_ptr<UnixAddress> to) : fd_(fd), flags_(flags), to_(std::move(to)) {}
  bool Prepare(const uint8_t* data, size_t length) {
    length_ = length;
    data_.reset(new (std::nothrow) uint8_t[length == 0 ? 1 : length]);
    if (data_ == nullptr) return false;
    if (length != 0) std::memcpy(data_.get(), data, length);
    return true;
  }
  int64_t Run() override {
    SendArgs args{fd_, data_.get(), length_, flags_, to_.get()};
    return SendOnce(&args);
  }
  bool Restartable() const override { return true; }
  napi_status Settle(napi_env env, napi_value settle) override {
    return SettleCall(env, settle, handle, result, nullptr, 0);
  }

 private:
  int fd_;
  int flags_;
  std::unique_ptr<UnixAddress> to_;
  size_t length_ = 0;
  std::unique_ptr<uint8_t[]> data_;
};

class RecvCall : public Call {
 public:
  RecvCall(int fd, int64_t count, int flags, bool from)
      : args_{fd, nullptr, RecvSize(count), flags, from ? &from_ : nullptr, 0} {}
  bool Prepare() {
    // recvfrom: room behind the bytes for the sender's name and its length
    args_.buf = buffer_.Reserve(args_.size + (args_.from != nullptr ? sizeof from_.sun_path + 1 : 0));
    return args_.buf != nullptr;
  }
  int64_t Run() override { return RecvOnce(&args_); }
  bool Restartable() const override { return true; }
  // settle(handle, length, undefined, data): data holds what was copied;
  // for recvfrom, then the sender's name and, last, the name's length (a byte).
  napi_status Settle(napi_env env, napi_value settle) override {
    if (result < 0) return SettleCall(env, settle, handle, result, nullptr, 0);
    size_t copied = Copied(result, args_.size);
    if (args_.from == nullptr) return SettleCall(env, settle, handle, result, args_.buf, copied);
    const std::string name = NameOf(from_, args_.fromLength);
    std::memmove(args_.buf + copied, name.data(), name.size());
    args_.buf[copied + name.size()] = static_cast<uint8_t>(name.size());
    return SettleCall(env, settle, handle, result, args_.buf, copied + name.size() + 1);
  }

 private:
  struct sockaddr_un from_ = {};
  RecvArgs args_;
  ByteBuffer buffer_;
};

// socketpair(domain, type, protocol) → [a, b] or -errno
napi_value SocketPair(napi_env env, napi_callback_info info) {
  FdArgs a(env, info);
  int32_t domain, type, protocol;
  if (!ArgInt(env, a.argv[0], "domain", &domain) || !ArgInt(env, a.argv[1], "type", &type) ||
      !ArgInt(env, a.argv[2], "protocol", &protocol)) {
    return nullptr;
  }
  int sv[2];
  if (socketpair(domain, type, protocol, sv) != 0) return Result(env, -errno);
  return NewPair(env, sv[0], sv[1]);
}

// fd, data, flags and, for sendto, a name (a string in argv[3]; undefined for send).
bool SendArgsOf(napi_env env, FdArgs& a, SendArgs* out, std::unique_ptr<UnixAddress>* to) {
  int32_t fd, flags;
  uint8_t* data;
  size_t length;
  if (!ArgInt(env, a.argv[0], "fd", &fd) || !ArgBytes(env, a.argv[1], "data", &data, &length) ||
      !ArgInt(env, a.argv[2], "flags", &flags)) {
    return false;
  }
  napi_valuetype type;
  if (napi_typeof(env, a.argv[3], &type) != napi_ok) return false;
  if (type != napi_undefined) {
    std::string name;
    if (!ArgSocketName(env, a.argv[3], &name)) return false;
    to->reset(new UnixAddress(name));
  }
  *out = SendArgs{fd, data, length, flags, to->get()};
  return true;
}

// send(fd, data, flags, name?) → bytes sent or -errno; never sleeps (MSG_DONTWAIT added).
napi_value Send(napi_env env, napi_callback_info info) {
  FdArgs a(env, info);
  SendArgs args;
  std::unique_ptr<UnixAddress> to;
  if (!SendArgsOf(env, a, &args, &to)) return nullptr;
  args.flags |= MSG_DONTWAIT;
  return Result(env, SendOnce(&args));
}

// sendStart(fd, data, flags, name?) → a handle; settle(handle, n or -errno) later. The data is copied now.
napi_value SendStart(napi_env env, napi_callback_info info) {
  FdArgs a(env, info);
  SendArgs args;
  std::unique_ptr<UnixAddress> to;
  if (!SendArgsOf(env, a, &args, &to) || !ReadyForCall(env, a.state)) return nullptr;
  auto call = std::make_unique<SendCall>(args.fd, args.flags, std::move(to));
  const bool prepared = call->Prepare(args.data, args.length);
  return StartPrepared(env, a.state, std::move(call), prepared, "send");
}

// sendHere(fd, data, flags, name?) → bytes sent or -errno; sleeps on this thread.
napi_value SendHere(napi_env env, napi_callback_info info) {
  FdArgs a(env, info);
  SendArgs args;
  std::unique_ptr<UnixAddress> to;
  if (!SendArgsOf(env, a, &args, &to)) return nullptr;
  return Result(env, RunHere(SendOnce, &args, true));
}

// fd, count, flags and whether the sender's name is wanted (recvfrom: argv[3] true).
bool RecvArgsOf(napi_env env, FdArgs& a, int32_t* fd, int64_t* count, int32_t* flags, bool* from) {
  if (!ArgInt(env, a.argv[0], "fd", fd) || !ArgSize(env, a.argv[1], "count", count) ||
      !ArgInt(env, a.argv[2], "flags", flags)) {
    return false;
  }
  napi_valuetype type;
  if (napi_typeof(env, a.argv[3], &type) != napi_ok) return false;
  *from = false;
  if (type == napi_boolean) napi_get_value_bool(env, a.argv[3], from);
  return true;
}

// A receive on this thread (sleep: whether it may): [length, data(, from)] or -errno.
napi_value RecvNow(napi_env env, napi_callback_info info, bool sleep) {
  FdArgs a(env, info);
  int32_t fd, flags;
  int64_t count;
  bool wantFrom;
  if (!RecvArgsOf(env, a, &fd, &count, &flags, &wantFrom)) return nullptr;
  ByteBuffer buffer;
  struct sockaddr_un from = {};
  RecvArgs args{fd, nullptr, RecvSize(count), sleep ? flags : flags | MSG_DONTWAIT, wantFrom ? &from : nullptr, 0};
  args.buf = buffer.Reserve(args.size);
  if (args.buf == nullptr) return Result(env, -ENOMEM);
  int64_t n = sleep ? RunHere(RecvOnce, &args, true) : RecvOnce(&args);
  if (n < 0) return Result(env, n);
  return Received(env, n, args);
}

// recv(fd, count, flags, from?) → [length, data(, from)] or -errno; never sleeps (MSG_DONTWAIT added).
napi_value Recv(napi_env env, napi_callback_info info) {
  return RecvNow(env, info, false);
}

// recvStart(fd, count, flags, from?) → a handle; settle(handle, length, undefined, data) later.
napi_value RecvStart(napi_env env, napi_callback_info info) {
  FdArgs a(env, info);
  int32_t fd, flags;
  int64_t count;
  bool wantFrom;
  if (!RecvArgsOf(env, a, &fd, &count, &flags, &wantFrom) || !ReadyForCall(env, a.state)) return nullptr;
  auto call = std::make_unique<RecvCall>(fd, count, flags, wantFrom);
  const bool prepared = call->Prepare();
  return StartPrepared(env, a.state, std::move(call), prepared, "recv");
}

// recvHere(fd, count, flags, from?) → [length, data(, from)] or -errno; sleeps on this thread.
napi_value RecvHere(napi_env env, napi_callback_info info) {
  return RecvNow(env, info, true);
}

// shutdown(fd, how) → 0 or -errno
napi_value Shutdown(napi_env env, napi_callback_info info) {
  FdArgs a(env, info);
  int32_t fd, how;
  if (!ArgInt(env, a.argv[0], "fd", &fd) || !ArgInt(env, a.argv[1], "how", &how)) return nullptr;
  return Result(env, shutdown(fd, how) == 0 ? 0 : -errno);
}

// setsockopt(fd, optname, value) → 0 or -errno, at SOL_SOCKET with an int value.
napi_value SetSockOpt(napi_env env, napi_callback_info info) {
  FdArgs a(env, info);
  int32_t fd, optname, value;
  if (!ArgInt(env, a.argv[0], "fd", &fd) || !ArgInt(env, a.argv[1], "optname", &optname) ||
      !ArgInt(env, a.argv[2], "value", &value)) {
    return nullptr;
  }
  int v = value;
  return Result(env, setsockopt(fd, SOL_SOCKET, optname, &v, sizeof v) == 0 ? 0 : -errno);
}

// getsockopt(fd, optname, out: Float64Array(1)) → 0 or -errno; out[0] = the
// option as an int (net/core/sock.c: sk_getsockopt copies at most the length
// asked, so a wider option is cut to its first int).
napi_value GetSockOpt(napi_env env, napi_callback_info info) {
  FdArgs a(env, info);
  int32_t fd, optname;
  double* out;
  if (!ArgInt(env, a.argv[0], "fd", &fd) || !ArgInt(env, a.argv[1], "optname", &optname) ||
      !ArgDoubles(env, a.argv[2], "out", 1, &out)) {
    return nullptr;
  }
  // Room for the widest SOL_SOCKET option; only the first int is reported.
  union {
    int value;
    char room[256];
  } u;
  std::memset(&u, 0, sizeof u);
  socklen_t length = sizeof(int);
  if (getsockopt(fd, SOL_SOCKET, optname, &u, &length) != 0) return Result(env, -errno);
  out[0] = u.value;
  return Result(env, 0);
}

}  // namespace

napi_status DefineSock(napi_env env, napi_value exports, AddonState* state) {
  const napi_property_descriptor functions[] = {
      {"socketpair", nullptr, SocketPair, nullptr, nullptr, nullptr, napi_enumerable, state},
      {"send", nullptr, Send, nullptr, nullptr, nullptr, napi_enumerable, state},
      {"sendStart", nullptr, SendStart, nullptr, nullptr, nullptr, napi_enumerable, state},
      {"sendHere", nullptr, SendHere, nullptr, nullptr, nullptr, napi_enumerable, state},
      {"recv", nullptr, Recv, nullptr, nullptr, nullptr, napi_enumerable, state},
      {"recvStart", nullptr, RecvStart, nullptr, nullptr, nullptr, napi_enumerable, state},
      {"recvHere", nullptr, RecvHere, nullptr, nullptr, nullptr, napi_enumerable, state},
      {"shutdown", nullptr, Shutdown, nullptr, nullptr, nullptr, napi_enumerable, state},
      {"setsockopt", nullptr, SetSockOpt, nullptr, nullptr, nullptr, napi_enumerable, state},
      {"getsockopt", nullptr, GetSockOpt, nullptr, nullptr, nullptr, napi_enumerable, state},
  };
  return napi_define_properties(env, exports, sizeof functions / sizeof functions[0], functions);
}

}  // namespace ipcemu
