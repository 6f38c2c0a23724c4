#include "sem.h"

#include <sys/ipc.h>
#include <sys/sem.h>
#include <time.h>

#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "addon.h"
#include "errors.h"
#include "here.h"
#include "wait.h"

#ifndef SEM_STAT_ANY
#define SEM_STAT_ANY 20
#endif

namespace ipcemu {

namespace {

static_assert(sizeof(struct sembuf) == 3 * sizeof(int16_t), "struct sembuf must be three shorts, as the host packs it");

// semctl's fourth argument, which the caller defines (sys/sem.h).
union SemArg {
  int val;
  struct semid_ds* buf;
  unsigned short* array;
  struct seminfo* info;
};

// ipc/util.c: ipc_parse_version() strips this bit from every command before
// ksys_semctl() looks at it (glibc sets it itself), so GETALL | 0x100 writes
// nsems values just as GETALL does: commands are recognised without it.
constexpr int kIpc64 = 0x100;

// Operations copied on the stack; longer arrays go to the heap.
constexpr size_t kFastOps = 32;

// A timeout longer than this (~35 000 years) is never re-armed with the time
// left: the deadline would overflow, and nothing waits that long.
constexpr time_t kTrackMax = time_t{1} << 40;
constexpr long kNanos = 1000000000L;

constexpr size_t kCtlSlots = 16;

struct Args {
  static constexpr size_t kMax = 5;
  napi_value argv[kMax];
  AddonState* state;
  Args(napi_env env, napi_callback_info info) {
    size_t argc = kMax;
    void* data = nullptr;
    napi_get_cb_info(env, info, &argc, argv, nullptr, &data);
    // Missing arguments read as undefined: readers reject it, or take it as "none".
    if (argc < kMax) {
      napi_value undefined;
      napi_get_undefined(env, &undefined);
      for (size_t i = argc; i < kMax; ++i) argv[i] = undefined;
    }
    state = static_cast<AddonState*>(data);
  }
};

bool Throw(napi_env env, bool range, const std::string& message) {
  if (range) {
    napi_throw_range_error(env, nullptr, message.c_str());
  } else {
    napi_throw_type_error(env, nullptr, message.c_str());
  }
  return false;
}

// sops: an Int16Array of at least 3 * nsops shorts, each triple a struct sembuf.
bool ArgSops(napi_env env, napi_value array, napi_value count, const struct sembuf** sops, size_t* nsops) {
  napi_typedarray_type type;
  size_t length = 0;
  void* raw = nullptr;
  if (napi_get_typedarray_info(env, array, &type, &length, &raw, nullptr, nullptr) != napi_ok ||
      type != napi_int16_array) {
    return Throw(env, false, "sops must be an Int16Array");
  }
  int64_t n;
  if (!ArgSize(env, count, "nsops", &n)) return false;
  if (n < 0 || static_cast<uint64_t>(n) > length / 3) {
    return Throw(env, true, "nsops must be between 0 and a third of sops.length");
  }
  // An empty (or detached) array has no data; the kernel answers nsops 0 before reading any.
  static const struct sembuf none[1] = {};
  *sops = raw == nullptr ? none : static_cast<const struct sembuf*>(raw);
  *nsops = static_cast<size_t>(n);
  return true;
}

// A relative timeout given as sec and nsec (C longs: numbers or bigints),
// or null / undefined for none. Passed to the kernel as they are: it
// answers a malformed one with EINVAL.
bool ArgTimeout(napi_env env, napi_value sec, napi_value nsec, bool* timed, struct timespec* out) {
  napi_valuetype type;
  if (napi_typeof(env, sec, &type) != napi_ok) return false;
  if (type == napi_null || type == napi_undefined) {
    *timed = false;
    return true;
  }
  int64_t s, ns;
  if (!ArgLong(env, sec, "sec", &s) || !ArgLong(env, nsec, "nsec", &ns)) return false;
  out->tv_sec = static_cast<time_t>(s);
  out->tv_nsec = static_cast<long>(ns);
  *timed = true;
  return true;
}

// An int from a Float64Array slot the host filled (SETVAL's value).
bool SlotInt(napi_env env, double d, const char* name, int* out) {
  if (!(d >= INT_MIN && d <= INT_MAX) || static_cast<double>(static_cast<int>(d)) != d) {
    return Throw(env, true, std::string(name) + " must be an integer that fits a C int");
  }
  *out = static_cast<int>(d);
  return true;
}

// A uid_t / gid_t / mode_t from a slot: an integer in [0, 2^32).
bool SlotUnsigned(napi_env env, double d, const char* name, unsigned* out) {
  if (!(d >= 0 && d <= 4294967295.0) || static_cast<double>(static_cast<uint32_t>(d)) != d) {
    return Throw(env, true, std::string(name) + " must be an integer that fits a C unsigned int");
  }
  *out = static_cast<unsigned>(d);
  return true;
}

struct timespec Until(const struct timespec& deadline) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  struct timespec left{deadline.tv_sec - now.tv_sec, deadline.tv_nsec - now.tv_nsec};
  if (left.tv_nsec < 0) {
    left.tv_nsec += kNanos;
    left.tv_sec -= 1;
  }
  if (left.tv_sec < 0) left = {0, 0};
  return left;
}

// One semop that may sleep: its own copy of the operations, and its
// timeout. Run() may be called again after an interruption nobody asked for
// (a stray signal, or the pool's quiesce taking it out of the kernel); it
// then waits only for the time left, as a C program restarting the call
// would, so such a pause never lengthens the wait. A malformed timeout is
// not tracked: the kernel answers it with EINVAL before sleeping.
class Semop {
 public:
  // Copies `sops` (the caller may reuse its array at once). False when no
  // memory could be had for the copy.
  bool Prepare(int semid, const struct sembuf* sops, size_t nsops, bool timed, const struct timespec& timeout) {
    try {
      sops_.assign(sops, sops + nsops);
    } catch (const std::bad_alloc&) {
      return false;
    }
    semid_ = semid;
    timed_ = timed;
    timeout_ = timeout;
    return true;
  }

  int64_t Run() {
    const struct timespec* timeout = nullptr;
    struct timespec left;
    if (timed_) {
      timeout = &timeout_;
      if (!started_) {
        if (timeout_.tv_sec >= 0 && timeout_.tv_sec <= kTrackMax && timeout_.tv_nsec >= 0 && timeout_.tv_nsec < kNanos) {
          clock_gettime(CLOCK_MONOTONIC, &deadline_);
          deadline_.tv_sec += timeout_.tv_sec;
          deadline_.tv_nsec += timeout_.tv_nsec;
          if (deadline_.tv_nsec >= kNanos) {
            deadline_.tv_nsec -= kNanos;
            deadline_.tv_sec += 1;
          }
          tracked_ = true;
        }
      } else if (tracked_) {
        left = Until(deadline_);
        timeout = &left;
      }
    }
    started_ = true;
    // semtimedop takes a non-const pointer but only reads the timespec.
    struct timespec* arg = const_cast<struct timespec*>(timeout);
    return semtimedop(semid_, sops_.data(), sops_.size(), arg) == 0 ? 0 : -errno;
  }

  static int64_t RunOnce(void* self) { return static_cast<Semop*>(self)->Run(); }

 private:
  int semid_ = -1;
  std::vector<struct sembuf> sops_;
  bool timed_ = false;
  struct timespec timeout_{};
  bool started_ = false;
  bool tracked_ = false;
  struct timespec deadline_{};
};

// A semop that never sleeps: IPC_NOWAIT is added to every operation of a
// copy (the caller's array stays as it was), so an operation that would
// sleep fails with EAGAIN instead.
int64_t SemopNow(int semid, const struct sembuf* sops, size_t nsops, const struct timespec* timeout) {
  struct sembuf fast[kFastOps];
  std::vector<struct sembuf> slow;
  struct sembuf* copy = fast;
  if (nsops > kFastOps) {
    try {
      slow.resize(nsops);
    } catch (const std::bad_alloc&) {
      return -ENOMEM;
    }
    copy = slow.data();
  }
  for (size_t i = 0; i < nsops; ++i) {
    copy[i] = sops[i];
    copy[i].sem_flg = static_cast<short>(copy[i].sem_flg | IPC_NOWAIT);
  }
  struct timespec* arg = const_cast<struct timespec*>(timeout);
  return semtimedop(semid, copy, nsops, arg) == 0 ? 0 : -errno;
}

// The set's nsems, or -errno, from IPC_STAT, which needs read permission
// exactly as GETALL does. With `any`, a caller without it (who may still
// SETALL, with alter permission alone) learns the size from SEM_STAT_ANY,
// which checks none (Linux >= 4.17). Given a full id it keeps only the
// index bits, so its answer counts only if it names this very set; else
// the caller gets IPC_STAT's EACCES.
int64_t SetSize(int semid, bool any) {
  struct semid_ds ds;
  SemArg arg;
  arg.buf = &ds;
  if (semctl(semid, 0, IPC_STAT, arg) == 0) return static_cast<int64_t>(ds.sem_nsems);
  int err = errno;
  if (any && err == EACCES && semctl(semid, 0, SEM_STAT_ANY, arg) == semid) return static_cast<int64_t>(ds.sem_nsems);
  return -err;
}

void FillStat(double* out, const struct semid_ds& ds) {
  out[0] = ds.sem_perm.__key;
  out[1] = ds.sem_perm.uid;
  out[2] = ds.sem_perm.gid;
  out[3] = ds.sem_perm.cuid;
  out[4] = ds.sem_perm.cgid;
  out[5] = ds.sem_perm.mode;
  out[6] = static_cast<double>(ds.sem_otime);
  out[7] = static_cast<double>(ds.sem_ctime);
  out[8] = static_cast<double>(ds.sem_nsems);
}

void FillInfo(double* out, const struct seminfo& info) {
  out[0] = info.semmap;
  out[1] = info.semmni;
  out[2] = info.semmns;
  out[3] = info.semmnu;
  out[4] = info.semmsl;
  out[5] = info.semopm;
  out[6] = info.semume;
  out[7] = info.semusz;
  out[8] = info.semvmx;
  out[9] = info.semaem;
}

// semget(key, nsems, semflg) → id or -errno
napi_value SemGet(napi_env env, napi_callback_info info) {
  Args a(env, info);
  int32_t key, nsems, flags;
  if (!ArgInt(env, a.argv[0], "key", &key) || !ArgInt(env, a.argv[1], "nsems", &nsems) ||
      !ArgInt(env, a.argv[2], "semflg", &flags)) {
    return nullptr;
  }
  int id = semget(static_cast<key_t>(key), nsems, flags);
  return Result(env, id >= 0 ? id : -errno);
}

// semop(semid, sops, nsops, sec?, nsec?) → 0 or -errno; never sleeps
// (IPC_NOWAIT added to every operation). With sec and nsec it is
// semtimedop, whose timespec the kernel checks even when nothing sleeps.
napi_value SemOp(napi_env env, napi_callback_info info) {
  Args a(env, info);
  int32_t semid;
  const struct sembuf* sops;
  size_t nsops;
  bool timed;
  struct timespec timeout;
  if (!ArgInt(env, a.argv[0], "semid", &semid) || !ArgSops(env, a.argv[1], a.argv[2], &sops, &nsops) ||
      !ArgTimeout(env, a.argv[3], a.argv[4], &timed, &timeout)) {
    return nullptr;
  }
  return Result(env, SemopNow(semid, sops, nsops, timed ? &timeout : nullptr));
}

// semopHere(semid, sops, nsops, sec?, nsec?) → 0 or -errno. Sleeps on the
// calling thread until the operations can be applied (unless IPC_NOWAIT
// stops them); interruptThread(tid) ends the sleep (here.h).
napi_value SemOpHere(napi_env env, napi_callback_info info) {
  Args a(env, info);
  int32_t semid;
  const struct sembuf* sops;
  size_t nsops;
  bool timed;
  struct timespec timeout{};
  if (!ArgInt(env, a.argv[0], "semid", &semid) || !ArgSops(env, a.argv[1], a.argv[2], &sops, &nsops) ||
      !ArgTimeout(env, a.argv[3], a.argv[4], &timed, &timeout)) {
    return nullptr;
  }
  Semop op;
  if (!op.Prepare(semid, sops, nsops, timed, timeout)) return Result(env, -ENOMEM);
  return Result(env, RunHere(Semop::RunOnce, &op));
}

class SemopCall : public Call {
 public:
  Semop op;
  int64_t Run() override { return op.Run(); }
  napi_status Settle(napi_env env, napi_value settle) override {
    napi_value argv[2], undefined;
    napi_create_uint32(env, handle, &argv[0]);
    napi_create_double(env, static_cast<double>(result), &argv[1]);
    napi_get_undefined(env, &undefined);
    return napi_call_function(env, undefined, settle, 2, argv, nullptr);
  }
};

// semopStart(semid, sops, nsops, sec?, nsec?) → a handle; settle(handle, rc)
// later. The operations are copied now: the caller may reuse its array.
napi_value SemOpStart(napi_env env, napi_callback_info info) {
  Args a(env, info);
  int32_t semid;
  const struct sembuf* sops;
  size_t nsops;
  bool timed;
  struct timespec timeout{};
  if (!ArgInt(env, a.argv[0], "semid", &semid) || !ArgSops(env, a.argv[1], a.argv[2], &sops, &nsops) ||
      !ArgTimeout(env, a.argv[3], a.argv[4], &timed, &timeout) || !ReadyForCall(env, a.state)) {
    return nullptr;
  }
  auto call = std::make_unique<SemopCall>();
  const bool prepared = call->op.Prepare(semid, sops, nsops, timed, timeout);
  return StartPrepared(env, a.state, std::move(call), prepared, "semop");
}

// semctl(semid, semnum, cmd, buf: Float64Array(16)) → the syscall's result or -errno.
//   IPC_STAT, SEM_STAT, SEM_STAT_ANY fill buf with key, uid, gid, cuid, cgid,
//   mode, otime, ctime, nsems. IPC_INFO, SEM_INFO fill semmap, semmni,
//   semmns, semmnu, semmsl, semopm, semume, semusz, semvmx, semaem.
//   IPC_SET reads uid, gid, mode from buf[0..3); SETVAL its value from buf[0].
//   GETALL and SETALL are semgetall / semsetall (a TypeError here). Any
//   other command goes to the kernel as it is, with a zeroed buffer.
napi_value SemCtl(napi_env env, napi_callback_info info) {
  Args a(env, info);
  int32_t semid, semnum, cmd;
  double* buf;
  if (!ArgInt(env, a.argv[0], "semid", &semid) || !ArgInt(env, a.argv[1], "semnum", &semnum) ||
      !ArgInt(env, a.argv[2], "cmd", &cmd) || !ArgDoubles(env, a.argv[3], "buf", kCtlSlots, &buf)) {
    return nullptr;
  }
  // Room for whichever struct a command the kernel knows may write (never an array: see GETALL).
  union {
    struct semid_ds ds;
    struct seminfo info;
    char room[512];
  } u;
  std::memset(&u, 0, sizeof u);
  SemArg arg;
  arg.buf = &u.ds;
  int r;
  const int base = cmd & ~kIpc64;
  switch (base) {
    case IPC_STAT:
    case SEM_STAT:
    case SEM_STAT_ANY:
      r = semctl(semid, semnum, base, arg);
      if (r >= 0) FillStat(buf, u.ds);
      break;
    case IPC_INFO:
    case SEM_INFO:
      arg.info = &u.info;
      r = semctl(semid, semnum, base, arg);
      if (r >= 0) FillInfo(buf, u.info);
      break;
    case IPC_SET: {
      unsigned uid, gid, mode;
      if (!SlotUnsigned(env, buf[0], "uid", &uid) || !SlotUnsigned(env, buf[1], "gid", &gid) ||
          !SlotUnsigned(env, buf[2], "mode", &mode)) {
        return nullptr;
      }
      u.ds.sem_perm.uid = uid;
      u.ds.sem_perm.gid = gid;
      u.ds.sem_perm.mode = static_cast<unsigned short>(mode);
      r = semctl(semid, semnum, IPC_SET, arg);
      break;
    }
    case SETVAL: {
      SemArg value;
      if (!SlotInt(env, buf[0], "value", &value.val)) return nullptr;
      r = semctl(semid, semnum, SETVAL, value);
      break;
    }
    case GETALL:
    case SETALL:
      // The kernel would copy nsems values through the pointer: only the
      // functions that size the array for the set may ask.
      Throw(env, false, "semctl GETALL and SETALL go through semgetall and semsetall");
      return nullptr;
    default:
      r = semctl(semid, semnum, cmd, arg);
      break;
  }
  return Result(env, r >= 0 ? r : -errno);
}

// semgetall(semid) → a Uint16Array of the set's values (GETALL), or -errno.
napi_value SemGetAll(napi_env env, napi_callback_info info) {
  Args a(env, info);
  int32_t semid;
  if (!ArgInt(env, a.argv[0], "semid", &semid)) return nullptr;
  int64_t nsems = SetSize(semid, false);
  if (nsems < 0) return Result(env, nsems);
  void* data = nullptr;
  napi_value buffer, array;
  size_t bytes = static_cast<size_t>(nsems) * sizeof(unsigned short);
  if (napi_create_arraybuffer(env, bytes, &data, &buffer) != napi_ok) return nullptr;
  // A zero-length buffer may have no data; the kernel writes nothing then (a set has nsems >= 1).
  static unsigned short none[1];
  SemArg arg;
  arg.array = data == nullptr ? none : static_cast<unsigned short*>(data);
  if (semctl(semid, 0, GETALL, arg) < 0) return Result(env, -errno);
  if (napi_create_typedarray(env, napi_uint16_array, static_cast<size_t>(nsems), buffer, 0, &array) != napi_ok) {
    return nullptr;
  }
  return array;
}

// semsetall(semid, values: Uint16Array | null) → 0 or -errno (SETALL). A
// RangeError, and nothing set, unless values holds exactly the set's nsems.
// null is C's NULL: the kernel answers it (EFAULT, after its id and
// permission checks).
napi_value SemSetAll(napi_env env, napi_callback_info info) {
  Args a(env, info);
  int32_t semid;
  if (!ArgInt(env, a.argv[0], "semid", &semid)) return nullptr;
  napi_valuetype kind;
  if (napi_typeof(env, a.argv[1], &kind) != napi_ok) return nullptr;
  if (kind == napi_null) {
    SemArg none;
    none.array = nullptr;
    return Result(env, semctl(semid, 0, SETALL, none) == 0 ? 0 : -errno);
  }
  napi_typedarray_type type;
  size_t length = 0;
  void* raw = nullptr;
  if (napi_get_typedarray_info(env, a.argv[1], &type, &length, &raw, nullptr, nullptr) != napi_ok ||
      type != napi_uint16_array) {
    Throw(env, false, "values must be a Uint16Array or null");
    return nullptr;
  }
  int64_t nsems = SetSize(semid, true);
  if (nsems < 0) return Result(env, nsems);
  if (static_cast<int64_t>(length) != nsems) {
    Throw(env, true, "SETALL takes exactly " + std::to_string(nsems) + " values (the set's nsems), got " +
                         std::to_string(length));
    return nullptr;
  }
  SemArg arg;
  arg.array = static_cast<unsigned short*>(raw);
  return Result(env, semctl(semid, 0, SETALL, arg) == 0 ? 0 : -errno);
}

}  // namespace

napi_status DefineSem(napi_env env, napi_value exports, AddonState* state) {
  const napi_property_descriptor functions[] = {
      {"semget", nullptr, SemGet, nullptr, nullptr, nullptr, napi_enumerable, state},
      {"semop", nullptr, SemOp, nullptr, nullptr, nullptr, napi_enumerable, state},
      {"semopStart", nullptr, SemOpStart, nullptr, nullptr, nullptr, napi_enumerable, state},
      {"semopHere", nullptr, SemOpHere, nullptr, nullptr, nullptr, napi_enumerable, state},
      {"semctl", nullptr, SemCtl, nullptr, nullptr, nullptr, napi_enumerable, state},
      {"semgetall", nullptr, SemGetAll, nullptr, nullptr, nullptr, napi_enumerable, state},
      {"semsetall", nullptr, SemSetAll, nullptr, nullptr, nullptr, napi_enumerable, state},
  };
  return napi_define_properties(env, exports, sizeof functions / sizeof functions[0], functions);
}

}  // namespace ipcemu
