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
};

int64_t SendOnce(void* context) {
  auto* a = static_cast<SendArgs*>(context);
  ssize_t r = send(a->fd, a->data, a->length, a->flags | MSG_NOSIGNAL);
  return r >= 0 ? r : -errno;
}

struct RecvArgs {
  int fd;
  uint8_t* buf;
  size_t size;
  int flags;
};

int64_t RecvOnce(void* context) {
  auto* a = static_cast<RecvArgs*>(context);
  ssize_t r = recv(a->fd, a->buf, a->size, a->flags);
  return r >= 0 ? r : -errno;
}

// The bytes recv copied: with MSG_TRUNC it answers a datagram's real size,
// which may pass the buffer's.
size_t Copied(int64_t result, size_t size) {
  return static_cast<size_t>(result) < size ? static_cast<size_t>(result) : size;
}

// [length, data]: recv's return value and the bytes it copied.
napi_value Received(napi_env env, int64_t result, const uint8_t* buf, size_t size) {
  napi_value out, length;
  napi_value data = NewByteArray(env, buf, Copied(result, size));
  if (data == nullptr) return nullptr;
  napi_create_array_with_length(env, 2, &out);
  napi_create_double(env, static_cast<double>(result), &length);
  napi_set_element(env, out, 0, length);
  napi_set_element(env, out, 1, data);
  return out;
}

class SendCall : public Call {
 public:
  SendCall(int fd, int flags) : fd_(fd), flags_(flags) {}
  bool Prepare(const uint8_t* data, size_t length) {
    length_ = length;
    data_.reset(new (std::nothrow) uint8_t[length == 0 ? 1 : length]);
    if (data_ == nullptr) return false;
    if (length != 0) std::memcpy(data_.get(), data, length);
    return true;
  }
  int64_t Run() override {
    SendArgs args{fd_, data_.get(), length_, flags_};
    return SendOnce(&args);
  }
  bool Restartable() const override { return true; }
  napi_status Settle(napi_env env, napi_value settle) override {
    return SettleCall(env, settle, handle, result, nullptr, 0);
  }

 private:
  int fd_;
  int flags_;
  size_t length_ = 0;
  std::unique_ptr<uint8_t[]> data_;
};

class RecvCall : public Call {
 public:
  RecvCall(int fd, int64_t count, int flags) : args_{fd, nullptr, RecvSize(count), flags} {}
  bool Prepare() {
    args_.buf = buffer_.Reserve(args_.size);
    return args_.buf != nullptr;
  }
  int64_t Run() override { return RecvOnce(&args_); }
  bool Restartable() const override { return true; }
  // settle(handle, length, undefined, data): data holds what was copied.
  napi_status Settle(napi_env env, napi_value settle) override {
    return SettleCall(env, settle, handle, result, result >= 0 ? args_.buf : nullptr,
                      result >= 0 ? Copied(result, args_.size) : 0);
  }

 private:
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

bool SendArgsOf(napi_env env, FdArgs& a, SendArgs* out) {
  int32_t fd, flags;
  uint8_t* data;
  size_t length;
  if (!ArgInt(env, a.argv[0], "fd", &fd) || !ArgBytes(env, a.argv[1], "data", &data, &length) ||
      !ArgInt(env, a.argv[2], "flags", &flags)) {
    return false;
  }
  *out = SendArgs{fd, data, length, flags};
  return true;
}

// send(fd, data, flags) → bytes sent or -errno; never sleeps (MSG_DONTWAIT added).
napi_value Send(napi_env env, napi_callback_info info) {
  FdArgs a(env, info);
  SendArgs args;
  if (!SendArgsOf(env, a, &args)) return nullptr;
  args.flags |= MSG_DONTWAIT;
  return Result(env, SendOnce(&args));
}

// sendStart(fd, data, flags) → a handle; settle(handle, n or -errno) later. The data is copied now.
napi_value SendStart(napi_env env, napi_callback_info info) {
  FdArgs a(env, info);
  SendArgs args;
  if (!SendArgsOf(env, a, &args) || !ReadyForCall(env, a.state)) return nullptr;
  auto call = std::make_unique<SendCall>(args.fd, args.flags);
  if (!call->Prepare(args.data, args.length)) {
    ThrowErrno(env, ENOMEM, "send");
    return nullptr;
  }
  return StartedCall(env, a.state->pool.Start(std::move(call)));
}

// sendHere(fd, data, flags) → bytes sent or -errno; sleeps on this thread.
napi_value SendHere(napi_env env, napi_callback_info info) {
  FdArgs a(env, info);
  SendArgs args;
  if (!SendArgsOf(env, a, &args)) return nullptr;
  return Result(env, RunHere(SendOnce, &args, true));
}

bool RecvArgsOf(napi_env env, FdArgs& a, int32_t* fd, int64_t* count, int32_t* flags) {
  return ArgInt(env, a.argv[0], "fd", fd) && ArgSize(env, a.argv[1], "count", count) &&
         ArgInt(env, a.argv[2], "flags", flags);
}

// recv(fd, count, flags) → [length, data] or -errno; never sleeps (MSG_DONTWAIT added).
napi_value Recv(napi_env env, napi_callback_info info) {
  FdArgs a(env, info);
  int32_t fd, flags;
  int64_t count;
  if (!RecvArgsOf(env, a, &fd, &count, &flags)) return nullptr;
  ByteBuffer buffer;
  RecvArgs args{fd, nullptr, RecvSize(count), flags | MSG_DONTWAIT};
  args.buf = buffer.Reserve(args.size);
  if (args.buf == nullptr) return Result(env, -ENOMEM);
  int64_t n = RecvOnce(&args);
  if (n < 0) return Result(env, n);
  return Received(env, n, args.buf, args.size);
}

// recvStart(fd, count, flags) → a handle; settle(handle, length, undefined, data) later.
napi_value RecvStart(napi_env env, napi_callback_info info) {
  FdArgs a(env, info);
  int32_t fd, flags;
  int64_t count;
  if (!RecvArgsOf(env, a, &fd, &count, &flags) || !ReadyForCall(env, a.state)) return nullptr;
  auto call = std::make_unique<RecvCall>(fd, count, flags);
  if (!call->Prepare()) {
    ThrowErrno(env, ENOMEM, "recv");
    return nullptr;
  }
  return StartedCall(env, a.state->pool.Start(std::move(call)));
}

// recvHere(fd, count, flags) → [length, data] or -errno; sleeps on this thread.
napi_value RecvHere(napi_env env, napi_callback_info info) {
  FdArgs a(env, info);
  int32_t fd, flags;
  int64_t count;
  if (!RecvArgsOf(env, a, &fd, &count, &flags)) return nullptr;
  ByteBuffer buffer;
  RecvArgs args{fd, nullptr, RecvSize(count), flags};
  args.buf = buffer.Reserve(args.size);
  if (args.buf == nullptr) return Result(env, -ENOMEM);
  int64_t n = RunHere(RecvOnce, &args, true);
  if (n < 0) return Result(env, n);
  return Received(env, n, args.buf, args.size);
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
