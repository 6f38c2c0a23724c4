#include "pipe.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "addon.h"
#include "errors.h"
#include "here.h"
#include "wait.h"

namespace ipcemu {

namespace {

constexpr size_t kHeapMax = 1 << 20;
constexpr size_t kPage = 4096;
constexpr size_t kPipeBuf = 4096;  // PIPE_BUF: writes up to this size are atomic

// A count as read(2) uses it once it is known not to be negative.
size_t Clamp(int64_t count) { return static_cast<size_t>(count > kMaxRw ? kMaxRw : count); }

int64_t Errno(ssize_t r) { return r >= 0 ? r : -errno; }

// read(2) itself. A negative count reaches the kernel as the size_t it
// wraps to, as in C: vfs_read() answers EBADF / EINVAL, then EFAULT
// (access_ok fails for any size above 2^63), before it could sleep or
// write a byte. Made as a raw system call: glibc's fortified read() would
// abort the process on a size larger than the buffer.
int64_t ReadPlain(int fd, uint8_t* buf, int64_t count) {
  if (count < 0) {
    uint8_t scratch;
    return Errno(syscall(SYS_read, fd, &scratch, static_cast<size_t>(count)));
  }
  return Errno(read(fd, buf, Clamp(count)));
}

int64_t WritePlain(int fd, const uint8_t* data, size_t length) { return Errno(write(fd, data, length)); }

// A read that sleeps nowhere, for a file without FMODE_NOWAIT.
int64_t ReadNoWaitSlow(int fd, uint8_t* buf, size_t n) {
  int fl = fcntl(fd, F_GETFL);
  if (fl < 0) return -errno;
  // The description itself never sleeps: exact.
  if ((fl & O_NONBLOCK) != 0) return ReadPlain(fd, buf, static_cast<int64_t>(n));
  // fs/read_write.c: vfs_read() answers this before anything else.
  if ((fl & O_ACCMODE) == O_WRONLY) return -EBADF;
  if (n == 0) return 0;
  struct stat st;
  if (fstat(fd, &st) != 0) return -errno;
  if (S_ISFIFO(st.st_mode)) {
    if ((fl & O_ACCMODE) == O_RDONLY && (fl & O_DIRECT) == 0) {
      // fs/splice.c: vmsplice() on a read-only pipe is vmsplice_to_user(),
      // a read (pipe_to_user copies and consumes the buffers, EOF once no
      // writer is left) that honours SPLICE_F_NONBLOCK. Exact and race-free;
      // only O_DIRECT packet mode differs (a read drops a packet's rest).
      struct iovec iov = {buf, n};
      return Errno(vmsplice(fd, &iov, 1, SPLICE_F_NONBLOCK));
    }
    // O_RDWR (vmsplice would write) or a packet-mode FIFO. O_RDWR counts as
    // a writer, so an empty FIFO would sleep: EAGAIN. A read-only packet
    // FIFO with no byte and no writer would answer 0 at once, but the
    // writer count cannot be seen: EAGAIN there too (not exact). Bytes
    // present: read(2) returns at once, unless another reader empties the
    // FIFO between FIONREAD and the read (then it sleeps: the one race).
    int available = 0;
    if (ioctl(fd, FIONREAD, &available) != 0) return -errno;
    if (available == 0) return -EAGAIN;
    return ReadPlain(fd, buf, static_cast<int64_t>(n));
  }
  // Another file without FMODE_NOWAIT (a terminal, a character device):
  // poll first. It may still sleep if another reader takes the input
  // between poll and read.
  struct pollfd p = {fd, POLLIN, 0};
  int r = poll(&p, 1, 0);
  if (r < 0) return -errno;
  if (r == 0) return -EAGAIN;
  return ReadPlain(fd, buf, static_cast<int64_t>(n));
}

// One read that never sleeps: the bytes read, 0 at end of file, or -errno
// (-EAGAIN where a blocking read would sleep).
int64_t ReadNoWait(int fd, uint8_t* buf, int64_t count) {
  if (count < 0) return ReadPlain(fd, buf, count);
  size_t n = Clamp(count);
  struct iovec iov = {buf, n};
  ssize_t r = preadv2(fd, &iov, 1, -1, RWF_NOWAIT);
  if (r >= 0) return r;
  if (errno != EOPNOTSUPP) return -errno;
  return ReadNoWaitSlow(fd, buf, n);
}

int64_t PollOnce(int fd, short events) {
  struct pollfd p = {fd, events, 0};
  int r = poll(&p, 1, 0);
  if (r < 0) return -errno;
  return r == 0 ? 0 : p.revents;
}

// A write that sleeps nowhere, for a file without FMODE_NOWAIT.
int64_t WriteNoWaitSlow(int fd, const uint8_t* data, size_t length) {
  int fl = fcntl(fd, F_GETFL);
  if (fl < 0) return -errno;
  if ((fl & O_NONBLOCK) != 0) return WritePlain(fd, data, length);
  if ((fl & O_ACCMODE) == O_RDONLY) return -EBADF;
  // fs/pipe.c: anon_pipe_write() answers a zero-length write at once.
  if (length == 0) return WritePlain(fd, data, 0);
  int64_t revents = PollOnce(fd, POLLOUT);
  if (revents < 0) return revents;
  // No reader: write(2) answers EPIPE without sleeping (SIGPIPE is ignored).
  if ((revents & POLLERR) != 0) return WritePlain(fd, data, length);
  // Full. Not exact: a nonblocking write of a sub-page remainder may still
  // merge into the last page (checklist 134b); the page layout cannot be seen.
  if ((revents & POLLOUT) == 0) return -EAGAIN;
  // A free slot holds up to PIPE_BUF bytes: no sleep, unless another writer
  // fills the FIFO between poll and write.
  if (length <= kPipeBuf) return WritePlain(fd, data, length);
  // Larger: what a nonblocking write would take, piece by piece while a slot
  // is free. The sub-page remainder goes first, so it merges into the last
  // page exactly when the kernel's write would merge it; where it does not
  // merge, the kernel would have put it last instead (same bytes, the pages
  // split differently: not exact for later merges).
  size_t done = 0;
  size_t piece = length & (kPage - 1);
  if (piece == 0) piece = kPage;
  while (done < length) {
    if (done != 0) {
      revents = PollOnce(fd, POLLOUT);
      if (revents < 0 || (revents & POLLOUT) == 0 || (revents & POLLERR) != 0) break;
    }
    int64_t r = WritePlain(fd, data + done, piece);
    if (r < 0) return done != 0 ? static_cast<int64_t>(done) : r;
    done += static_cast<size_t>(r);
    piece = length - done < kPage ? length - done : kPage;
  }
  return static_cast<int64_t>(done);
}

// One write that never sleeps: the bytes written, or -errno (-EAGAIN where
// nothing fits and a blocking write would sleep).
int64_t WriteNoWait(int fd, const uint8_t* data, size_t length) {
  if (length == 0) {
    // pwritev2 answers a zero-length write with 0 before the file sees it
    // (fs/read_write.c), while write(2) hands it on: a socket sends an empty
    // datagram or answers EPIPE / ECONNREFUSED / ENOTCONN. A socket takes it as
    // a nonblocking send; any other file answers it without sleeping.
    ssize_t s = send(fd, data, 0, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (s >= 0) return s;
    if (errno != ENOTSOCK) return -errno;
    return WritePlain(fd, data, 0);
  }
  struct iovec iov = {const_cast<uint8_t*>(data), length};
  ssize_t r = pwritev2(fd, &iov, 1, -1, RWF_NOWAIT);
  if (r >= 0) return r;
  if (errno != EOPNOTSUPP) return -errno;
  return WriteNoWaitSlow(fd, data, length);
}

// fcntl commands whose third argument is an int (or absent): the only ones
// passed on. Any other (F_GETLK, F_SETOWN_EX, ... take a pointer) answers
// EINVAL, what Linux answers for a command it does not know.
bool IntFcntl(int cmd) {
  switch (cmd) {
    case F_DUPFD: case F_GETFD: case F_SETFD: case F_GETFL: case F_SETFL: case F_SETOWN: case F_GETOWN:
    case F_SETSIG: case F_GETSIG: case F_SETLEASE: case F_GETLEASE: case F_NOTIFY: case F_DUPFD_CLOEXEC:
    case F_SETPIPE_SZ: case F_GETPIPE_SZ: case F_ADD_SEALS: case F_GET_SEALS:
      return true;
    default:
      return false;
  }
}

int64_t Now() {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return static_cast<int64_t>(t.tv_sec) * 1000 + t.tv_nsec / 1000000;
}

// ---- One blocking system call each: for the pool (Run) and RunHere ----------

struct ReadArgs {
  int fd;
  int64_t count;
  uint8_t* buf;
};

int64_t ReadOnce(void* context) {
  auto* a = static_cast<ReadArgs*>(context);
  return ReadPlain(a->fd, a->buf, a->count);
}

struct WriteArgs {
  int fd;
  const uint8_t* data;
  size_t length;
};

int64_t WriteOnce(void* context) {
  auto* a = static_cast<WriteArgs*>(context);
  return WritePlain(a->fd, a->data, a->length);
}

struct OpenArgs {
  const char* path;
  int flags;
  int mode;
};

int64_t OpenOnce(void* context) {
  auto* a = static_cast<OpenArgs*>(context);
  return Errno(open(a->path, a->flags, a->mode));
}

// poll with a timeout kept across re-entries (a stray EINTR sends the call
// back into the kernel with what is left of it, not the whole of it).
struct PollArgs {
  struct pollfd* fds;
  nfds_t n;
  int timeout;        // < 0: no limit
  int64_t deadline;   // monotonic ms, set at the first entry
  bool started;
};

// The descriptors with revents, or -errno.
int64_t PollSetWait(void* context) {
  auto* a = static_cast<PollArgs*>(context);
  int wait = a->timeout;
  if (a->timeout > 0) {
    if (!a->started) a->deadline = Now() + a->timeout;
    int64_t left = a->deadline - Now();
    wait = left > 0 ? static_cast<int>(left) : 0;
  }
  a->started = true;
  int r = poll(a->fds, a->n, wait);
  return r < 0 ? -errno : r;
}

// One descriptor: its revents (0: none), or -errno.
int64_t PollWait(void* context) {
  int64_t r = PollSetWait(context);
  return r > 0 ? static_cast<PollArgs*>(context)->fds[0].revents : r;
}

// poll's descriptors from [fd, events, revents] triples of int.
std::vector<struct pollfd> PollFds(const int32_t* triples, size_t n) {
  std::vector<struct pollfd> fds(n);
  for (size_t i = 0; i < n; i++) fds[i] = {triples[3 * i], static_cast<short>(triples[3 * i + 1]), 0};
  return fds;
}

class ReadCall : public Call {
 public:
  ReadCall(int fd, int64_t count) : args_{fd, count, nullptr} {}
  bool Prepare() {
    args_.buf = buffer_.Reserve(args_.count > 0 ? Clamp(args_.count) : 0);
    return args_.buf != nullptr;
  }
  int64_t Run() override { return ReadOnce(&args_); }
  bool Restartable() const override { return true; }
  napi_status Settle(napi_env env, napi_value settle) override {
    return SettleCall(env, settle, handle, result, result >= 0 ? args_.buf : nullptr,
                      result >= 0 ? static_cast<size_t>(result) : 0);
  }

 private:
  ReadArgs args_;
  ByteBuffer buffer_;
};

class WriteCall : public Call {
 public:
  explicit WriteCall(int fd) : fd_(fd) {}
  bool Prepare(const uint8_t* data, size_t length) {
    length_ = length;
    data_.reset(new (std::nothrow) uint8_t[length == 0 ? 1 : length]);
    if (data_ == nullptr) return false;
    if (length != 0) std::memcpy(data_.get(), data, length);
    return true;
  }
  int64_t Run() override { return WritePlain(fd_, data_.get(), length_); }
  bool Restartable() const override { return true; }
  napi_status Settle(napi_env env, napi_value settle) override {
    return SettleCall(env, settle, handle, result, nullptr, 0);
  }

 private:
  int fd_;
  size_t length_ = 0;
  std::unique_ptr<uint8_t[]> data_;
};

class OpenCall : public Call {
 public:
  OpenCall(std::string path, int flags, int mode) : path_(std::move(path)), flags_(flags), mode_(mode) {}
  int64_t Run() override {
    OpenArgs args{path_.c_str(), flags_, mode_};
    return OpenOnce(&args);
  }
  bool Restartable() const override { return true; }
  napi_status Settle(napi_env env, napi_value settle) override {
    return SettleCall(env, settle, handle, result, nullptr, 0);
  }

 private:
  std::string path_;
  int flags_;
  int mode_;
};

class PollCall : public Call {
 public:
  PollCall(int fd, short events, int timeout) : fd_{fd, events, 0}, args_{&fd_, 1, timeout, 0, false} {}
  int64_t Run() override { return PollWait(&args_); }
  // fs/select.c: poll returns -ERESTARTNOHAND, EINTR whenever a handler ran.
  bool Restartable() const override { return false; }
  napi_status Settle(napi_env env, napi_value settle) override {
    return SettleCall(env, settle, handle, result, nullptr, 0);
  }

 private:
  struct pollfd fd_;
  PollArgs args_;
};

// A poll of several descriptors; it settles with the count and every revents (int32 each, as bytes).
class PollSetCall : public Call {
 public:
  PollSetCall(std::vector<struct pollfd> fds, int timeout)
      : fds_(std::move(fds)), args_{fds_.data(), fds_.size(), timeout, 0, false} {}
  int64_t Run() override { return PollSetWait(&args_); }
  bool Restartable() const override { return false; }
  napi_status Settle(napi_env env, napi_value settle) override {
    if (result < 0) return SettleCall(env, settle, handle, result, nullptr, 0);
    std::vector<int32_t> revents(fds_.size());
    for (size_t i = 0; i < fds_.size(); i++) revents[i] = fds_[i].revents;
    return SettleCall(env, settle, handle, result, reinterpret_cast<const uint8_t*>(revents.data()),
                      revents.size() * sizeof(int32_t));
  }

 private:
  std::vector<struct pollfd> fds_;
  PollArgs args_;
};

// ---- JavaScript functions ---------------------------------------------------

// pipe2(flags) → [readFd, writeFd] or -errno
napi_value Pipe2(napi_env env, napi_callback_info info) {
  FdArgs a(env, info);
  int32_t flags;
  if (!ArgInt(env, a.argv[0], "flags", &flags)) return nullptr;
  int fds[2];
  if (pipe2(fds, flags) != 0) return Result(env, -errno);
  return NewPair(env, fds[0], fds[1]);
}

// mkfifo(path, mode) → 0 or -errno
napi_value Mkfifo(napi_env env, napi_callback_info info) {
  FdArgs a(env, info);
  std::string path;
  int32_t mode;
  if (!ArgPath(env, a.argv[0], &path) || !ArgInt(env, a.argv[1], "mode", &mode)) return nullptr;
  return Result(env, mkfifo(path.c_str(), static_cast<mode_t>(mode)) == 0 ? 0 : -errno);
}

bool OpenArgsOf(napi_env env, FdArgs& a, std::string* path, int32_t* flags, int32_t* mode) {
  return ArgPath(env, a.argv[0], path) && ArgInt(env, a.argv[1], "flags", flags) && ArgInt(env, a.argv[2], "mode", mode);
}

// open(path, flags, mode) → fd or -errno, on this thread: for opens that
// cannot sleep (O_NONBLOCK, O_RDWR on a FIFO).
napi_value Open(napi_env env, napi_callback_info info) {
  FdArgs a(env, info);
  std::string path;
  int32_t flags, mode;
  if (!OpenArgsOf(env, a, &path, &flags, &mode)) return nullptr;
  OpenArgs args{path.c_str(), flags, mode};
  return Result(env, OpenOnce(&args));
}

// openStart(path, flags, mode) → a handle; settle(handle, fd or -errno) later.
napi_value OpenStart(napi_env env, napi_callback_info info) {
  FdArgs a(env, info);
  std::string path;
  int32_t flags, mode;
  if (!OpenArgsOf(env, a, &path, &flags, &mode) || !ReadyForCall(env, a.state)) return nullptr;
  return StartedCall(env, a.state->pool.Start(std::make_unique<OpenCall>(std::move(path), flags, mode)));
}

// openHere(path, flags, mode) → fd or -errno; a FIFO open sleeps on this thread.
napi_value OpenHere(napi_env env, napi_callback_info info) {
  FdArgs a(env, info);
  std::string path;
  int32_t flags, mode;
  if (!OpenArgsOf(env, a, &path, &flags, &mode)) return nullptr;
  OpenArgs args{path.c_str(), flags, mode};
  return Result(env, RunHere(OpenOnce, &args, true));
}

// unlink(path) → 0 or -errno
napi_value Unlink(napi_env env, napi_callback_info info) {
  FdArgs a(env, info);
  std::string path;
  if (!ArgPath(env, a.argv[0], &path)) return nullptr;
  return Result(env, unlink(path.c_str()) == 0 ? 0 : -errno);
}

// stat(path, buf: Float64Array(2)) → 0 or -errno; buf = [st_mode & S_IFMT, st_mode & 07777].
napi_value Stat(napi_env env, napi_callback_info info) {
  FdArgs a(env, info);
  std::string path;
  double* buf;
  if (!ArgPath(env, a.argv[0], &path) || !ArgDoubles(env, a.argv[1], "buf", 2, &buf)) return nullptr;
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return Result(env, -errno);
  buf[0] = st.st_mode & S_IFMT;
  buf[1] = st.st_mode & 07777;
  return Result(env, 0);
}

// read(fd, count) → a fresh Uint8Array or -errno. Never sleeps (-EAGAIN).
napi_value Read(napi_env env, napi_callback_info info) {
  FdArgs a(env, info);
  int32_t fd;
  int64_t count;
  if (!ArgInt(env, a.argv[0], "fd", &fd) || !ArgSize(env, a.argv[1], "count", &count)) return nullptr;
  ByteBuffer buffer;
  uint8_t* buf = buffer.Reserve(count > 0 ? Clamp(count) : 0);
  if (buf == nullptr) return Result(env, -ENOMEM);
  int64_t n = ReadNoWait(fd, buf, count);
  if (n < 0) return Result(env, n);
  return NewByteArray(env, buf, static_cast<size_t>(n));
}

// readInto(fd, buf) → bytes read into buf or -errno. Never sleeps.
napi_value ReadInto(napi_env env, napi_callback_info info) {
  FdArgs a(env, info);
  int32_t fd;
  uint8_t* into;
  size_t length;
  if (!ArgInt(env, a.argv[0], "fd", &fd) || !ArgBytes(env, a.argv[1], "buf", &into, &length)) return nullptr;
  return Result(env, ReadNoWait(fd, into, static_cast<int64_t>(length)));
}

// readStart(fd, count) → a handle; settle(handle, n, undefined, data) later.
napi_value ReadStart(napi_env env, napi_callback_info info) {
  FdArgs a(env, info);
  int32_t fd;
  int64_t count;
  if (!ArgInt(env, a.argv[0], "fd", &fd) || !ArgSize(env, a.argv[1], "count", &count) || !ReadyForCall(env, a.state)) {
    return nullptr;
  }
  auto call = std::make_unique<ReadCall>(fd, count);
  const bool prepared = call->Prepare();
  return StartPrepared(env, a.state, std::move(call), prepared, "read");
}

// readHere(fd, count) → a fresh Uint8Array or -errno; sleeps on this thread.
napi_value ReadHere(napi_env env, napi_callback_info info) {
  FdArgs a(env, info);
  int32_t fd;
  int64_t count;
  if (!ArgInt(env, a.argv[0], "fd", &fd) || !ArgSize(env, a.argv[1], "count", &count)) return nullptr;
  ByteBuffer buffer;
  ReadArgs args{fd, count, buffer.Reserve(count > 0 ? Clamp(count) : 0)};
  if (args.buf == nullptr) return Result(env, -ENOMEM);
  int64_t n = RunHere(ReadOnce, &args, true);
  if (n < 0) return Result(env, n);
  return NewByteArray(env, args.buf, static_cast<size_t>(n));
}

// write(fd, data) → bytes written or -errno. Never sleeps (-EAGAIN).
napi_value Write(napi_env env, napi_callback_info info) {
  FdArgs a(env, info);
  int32_t fd;
  uint8_t* data;
  size_t length;
  if (!ArgInt(env, a.argv[0], "fd", &fd) || !ArgBytes(env, a.argv[1], "data", &data, &length)) return nullptr;
  return Result(env, WriteNoWait(fd, data, length));
}

// writeStart(fd, data) → a handle; settle(handle, n or -errno) later. The data is copied now.
napi_value WriteStart(napi_env env, napi_callback_info info) {
  FdArgs a(env, info);
  int32_t fd;
  uint8_t* data;
  size_t length;
  if (!ArgInt(env, a.argv[0], "fd", &fd) || !ArgBytes(env, a.argv[1], "data", &data, &length) ||
      !ReadyForCall(env, a.state)) {
    return nullptr;
  }
  auto call = std::make_unique<WriteCall>(fd);
  const bool prepared = call->Prepare(data, length);
  return StartPrepared(env, a.state, std::move(call), prepared, "write");
}

// writeHere(fd, data) → bytes written or -errno; sleeps on this thread.
napi_value WriteHere(napi_env env, napi_callback_info info) {
  FdArgs a(env, info);
  int32_t fd;
  uint8_t* data;
  size_t length;
  if (!ArgInt(env, a.argv[0], "fd", &fd) || !ArgBytes(env, a.argv[1], "data", &data, &length)) return nullptr;
  WriteArgs args{fd, data, length};
  return Result(env, RunHere(WriteOnce, &args, true));
}

// close(fd) → 0 or -errno
napi_value Close(napi_env env, napi_callback_info info) {
  FdArgs a(env, info);
  int32_t fd;
  if (!ArgInt(env, a.argv[0], "fd", &fd)) return nullptr;
  // Linux frees the descriptor even when close reports EINTR: never retried.
  return Result(env, close(fd) == 0 ? 0 : -errno);
}

// dup(fd) → the new descriptor or -errno
napi_value Dup(napi_env env, napi_callback_info info) {
  FdArgs a(env, info);
  int32_t fd;
  if (!ArgInt(env, a.argv[0], "fd", &fd)) return nullptr;
  int r = dup(fd);
  return Result(env, r >= 0 ? r : -errno);
}

// dup3(oldfd, newfd, flags) → newfd or -errno (dup2 is dup3 with no flags once oldfd != newfd)
napi_value Dup3(napi_env env, napi_callback_info info) {
  FdArgs a(env, info);
  int32_t oldfd, newfd, flags;
  if (!ArgInt(env, a.argv[0], "oldfd", &oldfd) || !ArgInt(env, a.argv[1], "newfd", &newfd) ||
      !ArgInt(env, a.argv[2], "flags", &flags)) {
    return nullptr;
  }
  int r = dup3(oldfd, newfd, flags);
  return Result(env, r >= 0 ? r : -errno);
}

// fcntl(fd, cmd, arg) → the result or -errno; commands with an int argument only.
napi_value Fcntl(napi_env env, napi_callback_info info) {
  FdArgs a(env, info);
  int32_t fd, cmd, arg;
  if (!ArgInt(env, a.argv[0], "fd", &fd) || !ArgInt(env, a.argv[1], "cmd", &cmd) ||
      !ArgInt(env, a.argv[2], "arg", &arg)) {
    return nullptr;
  }
  if (!IntFcntl(cmd)) {
    // Linux checks the descriptor before the command (fs/fcntl.c: do_fcntl runs on a valid file).
    if (fcntl(fd, F_GETFD) < 0) return Result(env, -errno);
    return Result(env, -EINVAL);
  }
  // As a long, sign-extended: fs/fcntl.c takes an unsigned long and each
  // command narrows it (F_SETPIPE_SZ to unsigned int: -1 is 0xffffffff).
  int r = fcntl(fd, cmd, static_cast<long>(arg));
  return Result(env, r >= 0 ? r : -errno);
}

// ioctl(fd, request) → FIONREAD's count or -errno. Only FIONREAD reaches the
// kernel (others may write a structure of any size where an int is given):
// any other request answers EBADF for a bad descriptor, else ENOTTY.
napi_value Ioctl(napi_env env, napi_callback_info info) {
  FdArgs a(env, info);
  int32_t fd, request;
  if (!ArgInt(env, a.argv[0], "fd", &fd) || !ArgInt(env, a.argv[1], "request", &request)) return nullptr;
  if (static_cast<unsigned>(request) != FIONREAD) {
    if (fcntl(fd, F_GETFD) < 0) return Result(env, -errno);
    return Result(env, -ENOTTY);
  }
  int count = 0;
  if (ioctl(fd, FIONREAD, &count) != 0) return Result(env, -errno);
  return Result(env, count);
}

bool PollArgsOf(napi_env env, FdArgs& a, int32_t* fd, int32_t* events, int32_t* timeout) {
  return ArgInt(env, a.argv[0], "fd", fd) && ArgInt(env, a.argv[1], "events", events) &&
         ArgInt(env, a.argv[2], "timeout", timeout);
}

// poll(fd, events) → revents (0: none) or -errno; timeout 0.
napi_value Poll(napi_env env, napi_callback_info info) {
  FdArgs a(env, info);
  int32_t fd, events;
  if (!ArgInt(env, a.argv[0], "fd", &fd) || !ArgInt(env, a.argv[1], "events", &events)) return nullptr;
  return Result(env, PollOnce(fd, static_cast<short>(events)));
}

// pollStart(fd, events, timeout) → a handle; settle(handle, revents or -errno) later.
napi_value PollStart(napi_env env, napi_callback_info info) {
  FdArgs a(env, info);
  int32_t fd, events, timeout;
  if (!PollArgsOf(env, a, &fd, &events, &timeout) || !ReadyForCall(env, a.state)) return nullptr;
  return StartedCall(env, a.state->pool.Start(std::make_unique<PollCall>(fd, static_cast<short>(events), timeout)));
}

// pollHere(fd, events, timeout) → revents or -errno; sleeps on this thread.
napi_value PollHere(napi_env env, napi_callback_info info) {
  FdArgs a(env, info);
  int32_t fd, events, timeout;
  if (!PollArgsOf(env, a, &fd, &events, &timeout)) return nullptr;
  struct pollfd one = {fd, static_cast<short>(events), 0};
  PollArgs args{&one, 1, timeout, 0, false};
  return Result(env, RunHere(PollWait, &args, false));
}

bool PollSetArgsOf(napi_env env, FdArgs& a, int32_t** triples, size_t* n, int32_t* timeout) {
  size_t length;
  if (!ArgInt32s(env, a.argv[0], "fds", triples, &length) || !ArgInt(env, a.argv[1], "timeout", timeout)) return false;
  *n = length / 3;
  return true;
}

// The revents back into the triples.
void PutRevents(int32_t* triples, const std::vector<struct pollfd>& fds) {
  for (size_t i = 0; i < fds.size(); i++) triples[3 * i + 2] = fds[i].revents;
}

// A poll of a set on this thread (sleep: as a call that may sleep, which a signal can end):
// the descriptors with revents (written into the triples) or -errno.
napi_value PollSetOnThisThread(napi_env env, napi_callback_info info, bool sleep) {
  FdArgs a(env, info);
  int32_t* triples;
  size_t n;
  int32_t timeout;
  if (!PollSetArgsOf(env, a, &triples, &n, &timeout)) return nullptr;
  std::vector<struct pollfd> fds = PollFds(triples, n);
  PollArgs args{fds.data(), fds.size(), timeout, 0, false};
  int64_t r = sleep ? RunHere(PollSetWait, &args, false) : PollSetWait(&args);
  if (r >= 0) PutRevents(triples, fds);
  return Result(env, r);
}

// pollSet(triples, timeout): only for a poll that cannot sleep long (timeout 0).
napi_value PollSet(napi_env env, napi_callback_info info) {
  return PollSetOnThisThread(env, info, false);
}

// pollSetStart(triples, timeout) → a handle; settle(handle, count, undefined, revents as int32 bytes) later.
napi_value PollSetStart(napi_env env, napi_callback_info info) {
  FdArgs a(env, info);
  int32_t* triples;
  size_t n;
  int32_t timeout;
  if (!PollSetArgsOf(env, a, &triples, &n, &timeout) || !ReadyForCall(env, a.state)) return nullptr;
  return StartedCall(env, a.state->pool.Start(std::make_unique<PollSetCall>(PollFds(triples, n), timeout)));
}

// pollSetHere(triples, timeout) → like pollSet, but sleeps on this thread.
napi_value PollSetHere(napi_env env, napi_callback_info info) {
  return PollSetOnThisThread(env, info, true);
}

}  // namespace

// ---- Shared with sock.cc -------------------------------------------------------

ByteBuffer::~ByteBuffer() { Release(); }

void ByteBuffer::Release() {
  if (data_ == nullptr) return;
  if (mapped_) {
    munmap(data_, capacity_);
  } else {
    std::free(data_);
  }
  data_ = nullptr;
  capacity_ = 0;
  mapped_ = false;
}

uint8_t* ByteBuffer::Reserve(size_t size) {
  if (size == 0) size = 1;
  if (size <= capacity_) return data_;
  Release();
  if (size <= kHeapMax) {
    // Zeroed: a recv with MSG_TRUNC may report more than it copied.
    data_ = static_cast<uint8_t*>(std::calloc(size, 1));
    if (data_ == nullptr) return nullptr;
  } else {
    void* mapping = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (mapping == MAP_FAILED) return nullptr;
    data_ = static_cast<uint8_t*>(mapping);
    mapped_ = true;
  }
  capacity_ = size;
  return data_;
}

FdArgs::FdArgs(napi_env env, napi_callback_info info) {
  size_t argc = kMax;
  void* data = nullptr;
  napi_get_cb_info(env, info, &argc, argv, nullptr, &data);
  if (argc < kMax) {
    napi_value undefined;
    napi_get_undefined(env, &undefined);
    for (size_t i = argc; i < kMax; ++i) argv[i] = undefined;
  }
  state = static_cast<AddonState*>(data);
}

bool ArgPath(napi_env env, napi_value value, std::string* out) {
  size_t length = 0;
  if (napi_get_value_string_utf8(env, value, nullptr, 0, &length) != napi_ok) {
    napi_throw_type_error(env, nullptr, "path must be a string");
    return false;
  }
  out->resize(length + 1);
  napi_get_value_string_utf8(env, value, &(*out)[0], length + 1, &length);
  out->resize(length);
  if (out->find('\0') != std::string::npos) {
    napi_throw_type_error(env, nullptr, "path must not contain NUL bytes");
    return false;
  }
  return true;
}

napi_value NewByteArray(napi_env env, const uint8_t* data, size_t length) {
  void* bytes = nullptr;
  napi_value buffer, array;
  if (napi_create_arraybuffer(env, length, &bytes, &buffer) != napi_ok) return nullptr;
  if (length != 0) std::memcpy(bytes, data, length);
  if (napi_create_typedarray(env, napi_uint8_array, length, buffer, 0, &array) != napi_ok) return nullptr;
  return array;
}

napi_value NewPair(napi_env env, int a, int b) {
  napi_value pair, first, second;
  napi_create_array_with_length(env, 2, &pair);
  napi_create_int32(env, a, &first);
  napi_create_int32(env, b, &second);
  napi_set_element(env, pair, 0, first);
  napi_set_element(env, pair, 1, second);
  return pair;
}

napi_status SettleCall(napi_env env, napi_value settle, uint32_t handle, int64_t result, const uint8_t* data,
                       size_t length) {
  napi_value argv[4], undefined;
  size_t argc = 2;
  napi_create_uint32(env, handle, &argv[0]);
  napi_create_double(env, static_cast<double>(result), &argv[1]);
  napi_get_undefined(env, &undefined);
  if (data != nullptr) {
    argv[2] = undefined;
    argv[3] = NewByteArray(env, data, length);
    if (argv[3] == nullptr) return napi_pending_exception;
    argc = 4;
  }
  return napi_call_function(env, undefined, settle, argc, argv, nullptr);
}

napi_status DefinePipe(napi_env env, napi_value exports, AddonState* state) {
  const napi_property_descriptor functions[] = {
      {"pipe2", nullptr, Pipe2, nullptr, nullptr, nullptr, napi_enumerable, state},
      {"mkfifo", nullptr, Mkfifo, nullptr, nullptr, nullptr, napi_enumerable, state},
      {"open", nullptr, Open, nullptr, nullptr, nullptr, napi_enumerable, state},
      {"openStart", nullptr, OpenStart, nullptr, nullptr, nullptr, napi_enumerable, state},
      {"openHere", nullptr, OpenHere, nullptr, nullptr, nullptr, napi_enumerable, state},
      {"unlink", nullptr, Unlink, nullptr, nullptr, nullptr, napi_enumerable, state},
      {"stat", nullptr, Stat, nullptr, nullptr, nullptr, napi_enumerable, state},
      {"read", nullptr, Read, nullptr, nullptr, nullptr, napi_enumerable, state},
      {"readInto", nullptr, ReadInto, nullptr, nullptr, nullptr, napi_enumerable, state},
      {"readStart", nullptr, ReadStart, nullptr, nullptr, nullptr, napi_enumerable, state},
      {"readHere", nullptr, ReadHere, nullptr, nullptr, nullptr, napi_enumerable, state},
      {"write", nullptr, Write, nullptr, nullptr, nullptr, napi_enumerable, state},
      {"writeStart", nullptr, WriteStart, nullptr, nullptr, nullptr, napi_enumerable, state},
      {"writeHere", nullptr, WriteHere, nullptr, nullptr, nullptr, napi_enumerable, state},
      {"close", nullptr, Close, nullptr, nullptr, nullptr, napi_enumerable, state},
      {"dup", nullptr, Dup, nullptr, nullptr, nullptr, napi_enumerable, state},
      {"dup3", nullptr, Dup3, nullptr, nullptr, nullptr, napi_enumerable, state},
      {"fcntl", nullptr, Fcntl, nullptr, nullptr, nullptr, napi_enumerable, state},
      {"ioctl", nullptr, Ioctl, nullptr, nullptr, nullptr, napi_enumerable, state},
      {"poll", nullptr, Poll, nullptr, nullptr, nullptr, napi_enumerable, state},
      {"pollStart", nullptr, PollStart, nullptr, nullptr, nullptr, napi_enumerable, state},
      {"pollHere", nullptr, PollHere, nullptr, nullptr, nullptr, napi_enumerable, state},
      {"pollSet", nullptr, PollSet, nullptr, nullptr, nullptr, napi_enumerable, state},
      {"pollSetStart", nullptr, PollSetStart, nullptr, nullptr, nullptr, napi_enumerable, state},
      {"pollSetHere", nullptr, PollSetHere, nullptr, nullptr, nullptr, napi_enumerable, state},
  };
  return napi_define_properties(env, exports, sizeof functions / sizeof functions[0], functions);
}

}  // namespace ipcemu
