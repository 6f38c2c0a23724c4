#include "msg.h"

#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/msg.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "addon.h"
#include "errors.h"
#include "here.h"

#ifndef MSG_STAT_ANY
#define MSG_STAT_ANY 13
#endif

namespace ipcemu {

namespace {

// Buffers up to this size are heap memory kept for reuse.
constexpr size_t kHeapMax = 1 << 20;
// What the sync buffer starts with: a default msgmax (8192) message.
constexpr size_t kHeapMin = 8192 + sizeof(long);
constexpr size_t kHeader = offsetof(MsgBuffer::Layout, mtext);

// msgrcv's msgsz as the kernel will use it. No message is longer than
// INT_MAX (msgmax is an int sysctl, and msgsnd checks it), so a larger msgsz
// gives the same answer as INT_MAX while asking no memory for it. A negative
// one is passed as is, for the kernel's EINVAL.
int64_t ReceiveSize(int64_t msgsz) { return msgsz > INT_MAX ? INT_MAX : msgsz; }

// The system calls themselves: 0 / the length, or -errno. Made directly, not
// through glibc's msgsnd/msgrcv: those are pthread cancellation points, and
// in a multi-threaded process (Node is one) each call enters and leaves
// asynchronous-cancel mode around the system call, ~20 ns a call on the hot
// path. Nothing here uses pthread cancellation: calls are interrupted by a
// signal (wait.h, here.h).
int64_t SysMsgsnd(int msqid, const MsgBuffer::Layout* message, size_t length, int flags) {
  return syscall(SYS_msgsnd, msqid, message, length, flags) == 0 ? 0 : -errno;
}

int64_t SysMsgrcv(int msqid, MsgBuffer::Layout* message, size_t size, int64_t msgtyp, int flags) {
  long n = syscall(SYS_msgrcv, msqid, message, size, msgtyp, flags);
  return n >= 0 ? n : -errno;
}


// One msgrcv into a reserved buffer. A negative size reaches the kernel as
// a size_t whose (long) is negative, for its EINVAL.
struct ReceiveArgs {
  int msqid;
  MsgBuffer::Layout* message;
  int64_t size;
  int64_t msgtyp;
  int flags;
};

int64_t ReceiveOnce(void* context) {
  auto* a = static_cast<ReceiveArgs*>(context);
  return SysMsgrcv(a->msqid, a->message, static_cast<size_t>(a->size), a->msgtyp, a->flags);
}

// Reserves room in `buffer` for msgrcv's msgsz; false when none can be had.
bool PrepareReceive(MsgBuffer& buffer, int msqid, int64_t msgsz, int64_t msgtyp, int flags, ReceiveArgs* out) {
  int64_t size = ReceiveSize(msgsz);
  MsgBuffer::Layout* message = buffer.Reserve(size < 0 ? 0 : static_cast<size_t>(size));
  if (message == nullptr) return false;
  *out = ReceiveArgs{msqid, message, size, msgtyp, flags};
  return true;
}

// Receives into `buffer`: the text's length, or -errno.
int64_t Receive(MsgBuffer& buffer, int msqid, int64_t msgsz, int64_t msgtyp, int flags) {
  ReceiveArgs args;
  if (!PrepareReceive(buffer, msqid, msgsz, msgtyp, flags, &args)) return -ENOMEM;
  return ReceiveOnce(&args);
}

// One msgsnd of a message laid out in a buffer.
struct SendArgs {
  int msqid;
  MsgBuffer::Layout* message;
  size_t length;
  int flags;
};

int64_t SendOnce(void* context) {
  auto* a = static_cast<SendArgs*>(context);
  return SysMsgsnd(a->msqid, a->message, a->length, a->flags);
}

// Lays the message out in `buffer`: 0, or -errno for an answer already known.
int64_t PrepareSend(MsgBuffer& buffer, int msqid, int64_t mtype, const uint8_t* text, size_t length, int flags,
                    SendArgs* out) {
  // ipc/msg.c: do_msgsnd() answers EINVAL for msgsz > msgmax (an int) before
  // it copies anything: no need to copy such a text first.
  if (length > static_cast<size_t>(INT_MAX)) return -EINVAL;
  MsgBuffer::Layout* message = buffer.Reserve(length);
  if (message == nullptr) return -ENOMEM;
  message->mtype = mtype;
  std::memcpy(message->mtext, text, length);
  *out = SendArgs{msqid, message, length, flags};
  return 0;
}

int64_t Send(MsgBuffer& buffer, int msqid, int64_t mtype, const uint8_t* text, size_t length, int flags) {
  SendArgs args;
  int64_t rc = PrepareSend(buffer, msqid, mtype, text, length, flags, &args);
  return rc < 0 ? rc : SendOnce(&args);
}

napi_value NewBytes(napi_env env, const char* data, size_t length) {
  void* bytes = nullptr;
  napi_value buffer, array;
  if (napi_create_arraybuffer(env, length, &bytes, &buffer) != napi_ok) return nullptr;
  if (length != 0) std::memcpy(bytes, data, length);
  if (napi_create_typedarray(env, napi_uint8_array, length, buffer, 0, &array) != napi_ok) return nullptr;
  return array;
}

struct Args {
  static constexpr size_t kMax = 4;
  napi_value argv[kMax];
  AddonState* state;
  Args(napi_env env, napi_callback_info info) {
    size_t argc = kMax;
    void* data = nullptr;
    napi_get_cb_info(env, info, &argc, argv, nullptr, &data);
    // Missing arguments read as undefined, which every reader rejects.
    if (argc < kMax) {
      napi_value undefined;
      napi_get_undefined(env, &undefined);
      for (size_t i = argc; i < kMax; ++i) argv[i] = undefined;
    }
    state = static_cast<AddonState*>(data);
  }
};

// msgget(key, msgflg) → id or -errno
napi_value MsgGet(napi_env env, napi_callback_info info) {
  Args a(env, info);
  int32_t key, flags;
  if (!ArgInt(env, a.argv[0], "key", &key) || !ArgInt(env, a.argv[1], "msgflg", &flags)) return nullptr;
  int id = msgget(static_cast<key_t>(key), flags);
  return Result(env, id >= 0 ? id : -errno);
}

// msgsnd(msqid, mtype, data, msgflg) → 0 or -errno; never blocks (IPC_NOWAIT added).
napi_value MsgSnd(napi_env env, napi_callback_info info) {
  Args a(env, info);
  int32_t msqid, flags;
  int64_t mtype;
  uint8_t* text;
  size_t length;
  if (!ArgInt(env, a.argv[0], "msqid", &msqid) || !ArgLong(env, a.argv[1], "mtype", &mtype) ||
      !ArgBytes(env, a.argv[2], "data", &text, &length) || !ArgInt(env, a.argv[3], "msgflg", &flags)) {
    return nullptr;
  }
  return Result(env, Send(a.state->buffer, msqid, mtype, text, length, flags | IPC_NOWAIT));
}

// Receives into `into` (msgsz: its length): the length, its mtype in io; or -errno.
int64_t ReceiveInto(AddonState* state, int msqid, uint8_t* into, size_t length, int64_t msgtyp, int flags) {
  MsgBuffer& buffer = state->buffer;
  int64_t n = Receive(buffer, msqid, static_cast<int64_t>(length), msgtyp, flags | IPC_NOWAIT);
  if (n < 0) return n;
  MsgBuffer::Layout* message = buffer.Data();
  std::memcpy(into, message->mtext, static_cast<size_t>(n));
  StoreMtype(state, message->mtype);
  return n;
}

// msgrcvInto(msqid, buf, msgtyp, msgflg) → the length (its mtype is then in
// io, StoreMtype) or -errno. Never blocks. Bytes of buf past the length
// stay untouched.
napi_value MsgRcvInto(napi_env env, napi_callback_info info) {
  Args a(env, info);
  int32_t msqid, flags;
  int64_t msgtyp;
  uint8_t* into;
  size_t length;
  if (!ArgInt(env, a.argv[0], "msqid", &msqid) || !ArgBytes(env, a.argv[1], "buf", &into, &length) ||
      !ArgLong(env, a.argv[2], "msgtyp", &msgtyp) || !ArgInt(env, a.argv[3], "msgflg", &flags)) {
    return nullptr;
  }
  return Result(env, ReceiveInto(a.state, msqid, into, length, msgtyp, flags));
}

// The hot path's calling convention: the scalars come from io (kIoMsqid,
// kIoType, kIoFlags; the type a safe integer), the buffer as the one
// argument. Same answers as the argument forms.
struct IoArgs {
  napi_value bytes;
  AddonState* state;
  int32_t msqid, flags;
  int64_t type;
  // False after throwing, as the Arg readers do.
  bool Read(napi_env env, napi_callback_info info) {
    size_t argc = 1;
    void* data = nullptr;
    napi_get_cb_info(env, info, &argc, &bytes, nullptr, &data);
    if (argc < 1) napi_get_undefined(env, &bytes);
    state = static_cast<AddonState*>(data);
    const double* io = state->io;
    return IoInt(env, io[kIoMsqid], "io msqid", &msqid) && IoLong(env, io[kIoType], "io type", &type) &&
           IoInt(env, io[kIoFlags], "io flags", &flags);
  }
};

// msgsndIo(data) → as msgsnd(io msqid, io type, data, io flags).
napi_value MsgSndIo(napi_env env, napi_callback_info info) {
  IoArgs a;
  uint8_t* text;
  size_t length;
  if (!a.Read(env, info) || !ArgBytes(env, a.bytes, "data", &text, &length)) return nullptr;
  return Result(env, Send(a.state->buffer, a.msqid, a.type, text, length, a.flags | IPC_NOWAIT));
}

// msgrcvIntoIo(buf) → as msgrcvInto(io msqid, buf, io type, io flags).
napi_value MsgRcvIntoIo(napi_env env, napi_callback_info info) {
  IoArgs a;
  uint8_t* into;
  size_t length;
  if (!a.Read(env, info) || !ArgBytes(env, a.bytes, "buf", &into, &length)) return nullptr;
  return Result(env, ReceiveInto(a.state, a.msqid, into, length, a.type, a.flags));
}

// msgrcv(msqid, msgsz, msgtyp, msgflg) → a fresh Uint8Array (its mtype is
// then in io, StoreMtype) or -errno. Never blocks.
napi_value MsgRcv(napi_env env, napi_callback_info info) {
  Args a(env, info);
  int32_t msqid, flags;
  int64_t msgsz, msgtyp;
  if (!ArgInt(env, a.argv[0], "msqid", &msqid) || !ArgSize(env, a.argv[1], "msgsz", &msgsz) ||
      !ArgLong(env, a.argv[2], "msgtyp", &msgtyp) || !ArgInt(env, a.argv[3], "msgflg", &flags)) {
    return nullptr;
  }
  MsgBuffer& buffer = a.state->buffer;
  int64_t n = Receive(buffer, msqid, msgsz, msgtyp, flags | IPC_NOWAIT);
  if (n < 0) return Result(env, n);
  MsgBuffer::Layout* message = buffer.Data();
  StoreMtype(a.state, message->mtype);
  // If even this allocation fails the message is gone from the queue; V8
  // then throws its RangeError, which says so.
  return NewBytes(env, message->mtext, static_cast<size_t>(n));
}

// msgsndHere(msqid, mtype, data, msgflg) → 0 or -errno. Sleeps on the
// calling thread while the queue is full (unless IPC_NOWAIT); another thread
// ends the sleep with interruptThread(tid) (here.h).
napi_value MsgSndHere(napi_env env, napi_callback_info info) {
  Args a(env, info);
  int32_t msqid, flags;
  int64_t mtype;
  uint8_t* text;
  size_t length;
  if (!ArgInt(env, a.argv[0], "msqid", &msqid) || !ArgLong(env, a.argv[1], "mtype", &mtype) ||
      !ArgBytes(env, a.argv[2], "data", &text, &length) || !ArgInt(env, a.argv[3], "msgflg", &flags)) {
    return nullptr;
  }
  SendArgs args;
  int64_t rc = PrepareSend(a.state->buffer, msqid, mtype, text, length, flags, &args);
  return Result(env, rc < 0 ? rc : RunHere(SendOnce, &args));
}

// msgrcvHere(msqid, msgsz, msgtyp, msgflg) → a fresh Uint8Array (its mtype
// is then in io, StoreMtype) or -errno. Sleeps on the calling thread until a
// message matches (unless IPC_NOWAIT); interruptThread(tid) ends the sleep.
napi_value MsgRcvHere(napi_env env, napi_callback_info info) {
  Args a(env, info);
  int32_t msqid, flags;
  int64_t msgsz, msgtyp;
  if (!ArgInt(env, a.argv[0], "msqid", &msqid) || !ArgSize(env, a.argv[1], "msgsz", &msgsz) ||
      !ArgLong(env, a.argv[2], "msgtyp", &msgtyp) || !ArgInt(env, a.argv[3], "msgflg", &flags)) {
    return nullptr;
  }
  ReceiveArgs args;
  if (!PrepareReceive(a.state->buffer, msqid, msgsz, msgtyp, flags, &args)) return Result(env, -ENOMEM);
  int64_t n = RunHere(ReceiveOnce, &args);
  if (n < 0) return Result(env, n);
  StoreMtype(a.state, args.message->mtype);
  return NewBytes(env, args.message->mtext, static_cast<size_t>(n));
}

// lastMtype() → the mtype of the last sync receive (a number, or a bigint
// beyond 2^53): what io cannot hold.
napi_value LastMtype(napi_env env, napi_callback_info info) {
  Args a(env, info);
  return LongValue(env, a.state->last_mtype);
}

void FillStat(double* out, const struct msqid_ds& ds) {
  out[0] = ds.msg_perm.__key;
  out[1] = ds.msg_perm.uid;
  out[2] = ds.msg_perm.gid;
  out[3] = ds.msg_perm.cuid;
  out[4] = ds.msg_perm.cgid;
  out[5] = ds.msg_perm.mode;
  out[6] = static_cast<double>(ds.msg_stime);
  out[7] = static_cast<double>(ds.msg_rtime);
  out[8] = static_cast<double>(ds.msg_ctime);
  out[9] = static_cast<double>(ds.__msg_cbytes);
  out[10] = static_cast<double>(ds.msg_qnum);
  out[11] = static_cast<double>(ds.msg_qbytes);
  out[12] = ds.msg_lspid;
  out[13] = ds.msg_lrpid;
}

void FillInfo(double* out, const struct msginfo& info) {
  out[0] = info.msgpool;
  out[1] = info.msgmap;
  out[2] = info.msgmax;
  out[3] = info.msgmnb;
  out[4] = info.msgmni;
  out[5] = info.msgssz;
  out[6] = info.msgtql;
  out[7] = info.msgseg;
}

// The host validated these; a NaN or an infinity from a raw caller becomes 0.
int64_t ToInt64(double d) { return d >= -9.2e18 && d <= 9.2e18 ? static_cast<int64_t>(d) : 0; }

constexpr size_t kCtlSlots = 16;

// msgctl(msqid, cmd, buf: Float64Array(16)) → the syscall's result or -errno.
//   IPC_STAT, MSG_STAT, MSG_STAT_ANY fill buf with key, uid, gid, cuid, cgid,
//   mode, stime, rtime, ctime, cbytes, qnum, qbytes, lspid, lrpid.
//   IPC_INFO, MSG_INFO fill msgpool, msgmap, msgmax, msgmnb, msgmni, msgssz,
//   msgtql, msgseg. IPC_SET reads uid, gid, mode, qbytes from buf[0..4).
//   Any other command goes to the kernel as it is, with a zeroed buffer.
napi_value MsgCtl(napi_env env, napi_callback_info info) {
  Args a(env, info);
  int32_t msqid, cmd;
  double* buf;
  if (!ArgInt(env, a.argv[0], "msqid", &msqid) || !ArgInt(env, a.argv[1], "cmd", &cmd) ||
      !ArgDoubles(env, a.argv[2], "buf", kCtlSlots, &buf)) {
    return nullptr;
  }
  // Room for whichever struct a command the kernel knows may write.
  union {
    struct msqid_ds ds;
    struct msginfo info;
    char room[512];
  } u;
  std::memset(&u, 0, sizeof u);
  int r;
  switch (cmd) {
    case IPC_STAT:
    case MSG_STAT:
    case MSG_STAT_ANY:
      r = msgctl(msqid, cmd, &u.ds);
      if (r >= 0) FillStat(buf, u.ds);
      break;
    case IPC_INFO:
    case MSG_INFO:
      r = msgctl(msqid, cmd, reinterpret_cast<struct msqid_ds*>(&u.info));
      if (r >= 0) FillInfo(buf, u.info);
      break;
    case IPC_SET:
      u.ds.msg_perm.uid = static_cast<uid_t>(ToInt64(buf[0]));
      u.ds.msg_perm.gid = static_cast<gid_t>(ToInt64(buf[1]));
      u.ds.msg_perm.mode = static_cast<unsigned short>(ToInt64(buf[2]));
      u.ds.msg_qbytes = static_cast<msglen_t>(ToInt64(buf[3]));
      r = msgctl(msqid, IPC_SET, &u.ds);
      break;
    default:
      r = msgctl(msqid, cmd, &u.ds);
      break;
  }
  return Result(env, r >= 0 ? r : -errno);
}

class MsgSndCall : public Call {
 public:
  MsgSndCall(int msqid, size_t length, int flags) : msqid_(msqid), length_(length), flags_(flags) {}
  bool Prepare(int64_t mtype, const uint8_t* text) {
    MsgBuffer::Layout* message = buffer_.Reserve(length_);
    if (message == nullptr) return false;
    message->mtype = mtype;
    std::memcpy(message->mtext, text, length_);
    return true;
  }
  int64_t Run() override {
    return SysMsgsnd(msqid_, buffer_.Data(), length_, flags_);
  }
  napi_status Settle(napi_env env, napi_value settle) override {
    napi_value argv[2], undefined;
    napi_create_uint32(env, handle, &argv[0]);
    napi_create_double(env, static_cast<double>(result), &argv[1]);
    napi_get_undefined(env, &undefined);
    return napi_call_function(env, undefined, settle, 2, argv, nullptr);
  }

 private:
  int msqid_;
  size_t length_;
  int flags_;
  MsgBuffer buffer_;
};

class MsgRcvCall : public Call {
 public:
  MsgRcvCall(int msqid, int64_t msgsz, int64_t msgtyp, int flags)
      : msqid_(msqid), msgsz_(msgsz), msgtyp_(msgtyp), flags_(flags) {}
  int64_t Run() override { return Receive(buffer_, msqid_, msgsz_, msgtyp_, flags_); }
  napi_status Settle(napi_env env, napi_value settle) override {
    napi_value argv[4], undefined;
    size_t argc = 2;
    napi_create_uint32(env, handle, &argv[0]);
    napi_create_double(env, static_cast<double>(result), &argv[1]);
    if (result >= 0) {
      MsgBuffer::Layout* message = buffer_.Data();
      argv[2] = LongValue(env, message->mtype);
      argv[3] = NewBytes(env, message->mtext, static_cast<size_t>(result));
      if (argv[3] == nullptr) return napi_pending_exception;
      argc = 4;
    }
    napi_get_undefined(env, &undefined);
    return napi_call_function(env, undefined, settle, argc, argv, nullptr);
  }

 private:
  int msqid_;
  int64_t msgsz_;
  int64_t msgtyp_;
  int flags_;
  MsgBuffer buffer_;
};

// msgsndStart(msqid, mtype, data, msgflg) → a handle; settle(handle, rc) later.
// The text is copied now: the caller may reuse its buffer at once.
napi_value MsgSndStart(napi_env env, napi_callback_info info) {
  Args a(env, info);
  int32_t msqid, flags;
  int64_t mtype;
  uint8_t* text;
  size_t length;
  if (!ArgInt(env, a.argv[0], "msqid", &msqid) || !ArgLong(env, a.argv[1], "mtype", &mtype) ||
      !ArgBytes(env, a.argv[2], "data", &text, &length) || !ArgInt(env, a.argv[3], "msgflg", &flags) ||
      !ReadyForCall(env, a.state)) {
    return nullptr;
  }
  if (length > static_cast<size_t>(INT_MAX)) {
    ThrowErrno(env, EINVAL, "msgsnd");  // ipc/msg.c: do_msgsnd(), msgsz > msgmax
    return nullptr;
  }
  auto call = std::make_unique<MsgSndCall>(msqid, length, flags);
  const bool prepared = call->Prepare(mtype, text);
  return StartPrepared(env, a.state, std::move(call), prepared, "msgsnd");
}

// msgrcvStart(msqid, msgsz, msgtyp, msgflg) → a handle; settle(handle, rc,
// mtype, data) later (rc < 0: -errno, and no mtype or data).
napi_value MsgRcvStart(napi_env env, napi_callback_info info) {
  Args a(env, info);
  int32_t msqid, flags;
  int64_t msgsz, msgtyp;
  if (!ArgInt(env, a.argv[0], "msqid", &msqid) || !ArgSize(env, a.argv[1], "msgsz", &msgsz) ||
      !ArgLong(env, a.argv[2], "msgtyp", &msgtyp) || !ArgInt(env, a.argv[3], "msgflg", &flags) ||
      !ReadyForCall(env, a.state)) {
    return nullptr;
  }
  return StartedCall(env, a.state->pool.Start(std::make_unique<MsgRcvCall>(msqid, msgsz, msgtyp, flags)));
}

}  // namespace

MsgBuffer::~MsgBuffer() { Release(); }

void MsgBuffer::Release() {
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

MsgBuffer::Layout* MsgBuffer::Reserve(size_t size) {
  size_t need = kHeader + size;
  // Keep what fits, except a large mapping once small texts are back.
  if (need <= capacity_ && !(mapped_ && need <= kHeapMax)) return reinterpret_cast<Layout*>(data_);
  Release();
  if (need <= kHeapMax) {
    size_t capacity = need < kHeapMin ? kHeapMin : need;
    data_ = static_cast<char*>(std::malloc(capacity));
    if (data_ == nullptr) return nullptr;
    capacity_ = capacity;
  } else {
    void* mapping = mmap(nullptr, need, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (mapping == MAP_FAILED) return nullptr;
    data_ = static_cast<char*>(mapping);
    capacity_ = need;
    mapped_ = true;
  }
  return reinterpret_cast<Layout*>(data_);
}

napi_status DefineMsg(napi_env env, napi_value exports, AddonState* state) {
  const napi_property_descriptor functions[] = {
      {"msgget", nullptr, MsgGet, nullptr, nullptr, nullptr, napi_enumerable, state},
      {"msgsnd", nullptr, MsgSnd, nullptr, nullptr, nullptr, napi_enumerable, state},
      {"msgrcv", nullptr, MsgRcv, nullptr, nullptr, nullptr, napi_enumerable, state},
      {"msgrcvInto", nullptr, MsgRcvInto, nullptr, nullptr, nullptr, napi_enumerable, state},
      {"msgsndIo", nullptr, MsgSndIo, nullptr, nullptr, nullptr, napi_enumerable, state},
      {"msgrcvIntoIo", nullptr, MsgRcvIntoIo, nullptr, nullptr, nullptr, napi_enumerable, state},
      {"lastMtype", nullptr, LastMtype, nullptr, nullptr, nullptr, napi_enumerable, state},
      {"msgctl", nullptr, MsgCtl, nullptr, nullptr, nullptr, napi_enumerable, state},
      {"msgsndStart", nullptr, MsgSndStart, nullptr, nullptr, nullptr, napi_enumerable, state},
      {"msgrcvStart", nullptr, MsgRcvStart, nullptr, nullptr, nullptr, napi_enumerable, state},
      {"msgsndHere", nullptr, MsgSndHere, nullptr, nullptr, nullptr, napi_enumerable, state},
      {"msgrcvHere", nullptr, MsgRcvHere, nullptr, nullptr, nullptr, napi_enumerable, state},
  };
  return napi_define_properties(env, exports, sizeof functions / sizeof functions[0], functions);
}

}  // namespace ipcemu
