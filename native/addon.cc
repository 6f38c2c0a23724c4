// Module initialisation: the addon's state, the functions that are not one
// mechanism's (setup, keepAlive, cancel, quiesce, resume, drain, stats,
// interruptThread, threadId), and the hand-over of finished blocking calls
// to JavaScript.
//
// Lifetime: the state is created per environment, with a thread-safe
// function that settles finished calls. It keeps the event loop alive only
// while the host says so (keepAlive: while a call that holds the process is
// pending), as a pending socket read does. An environment
// cleanup hook shuts the pool down (every call ended, every thread joined)
// and releases the thread-safe function; the state is freed when that
// function is finalized, because Node may still run its callback while it
// closes it, and the callback reads the state.

#include <napi.h>

#include <cmath>

#include "addon.h"
#include "errors.h"
#include "here.h"
#include "msg.h"
#include "pipe.h"
#include "sem.h"
#include "listen.h"
#include "sock.h"
#include "wait.h"

namespace ipcemu {

namespace {

constexpr double kSafeMax = 9007199254740991.0;

// Settles every finished call. A throwing settle callback does not stop the
// others; the first exception is rethrown after them.
void Deliver(napi_env env, AddonState* state) {
  std::vector<std::unique_ptr<Call>> calls = state->pool.TakeDone();
  if (calls.empty() || state->settle == nullptr) return;
  napi_value settle = nullptr;
  if (napi_get_reference_value(env, state->settle, &settle) != napi_ok || settle == nullptr) return;
  napi_value first_error = nullptr;
  for (auto& call : calls) {
    call->Settle(env, settle);
    bool pending = false;
    napi_is_exception_pending(env, &pending);
    if (pending) {
      napi_value error;
      napi_get_and_clear_last_exception(env, &error);
      if (first_error == nullptr) first_error = error;
    }
  }
  if (first_error != nullptr) napi_throw(env, first_error);
}

void CallJs(napi_env env, napi_value, void* context, void*) {
  // A null env: the function is being torn down, and nobody can be settled.
  if (env == nullptr) return;
  Deliver(env, static_cast<AddonState*>(context));
}

void Notify(void* context) {
  auto* state = static_cast<AddonState*>(context);
  // Nonblocking on an unbounded queue: fails only when closing, when nobody waits.
  napi_call_threadsafe_function(state->tsfn, nullptr, napi_tsfn_nonblocking);
}

void FinalizeState(napi_env, void* data, void*) { delete static_cast<AddonState*>(data); }

void Cleanup(void* data) {
  auto* state = static_cast<AddonState*>(data);
  state->pool.Shutdown();
  napi_release_threadsafe_function(state->tsfn, napi_tsfn_abort);
}

AddonState* StateOf(const Napi::CallbackInfo& info) { return static_cast<AddonState*>(info.Data()); }

// setup(settle): the function finished blocking calls are settled with.
Napi::Value Setup(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!ArgFunction(env, info[0], "settle")) return Napi::Value();
  AddonState* state = StateOf(info);
  if (state->settle != nullptr) napi_delete_reference(env, state->settle);
  napi_create_reference(env, info[0], 1, &state->settle);
  return Napi::Number::New(env, CancelSignal());
}

// keepAlive(on): whether pending calls keep the event loop alive. The host
// turns it on while at least one pending call holds the process.
Napi::Value KeepAlive(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  bool on;
  if (napi_get_value_bool(env, info[0], &on) != napi_ok) {
    Napi::TypeError::New(env, "on must be a boolean").ThrowAsJavaScriptException();
    return Napi::Value();
  }
  AddonState* state = StateOf(info);
  napi_status status = on ? napi_ref_threadsafe_function(env, state->tsfn) : napi_unref_threadsafe_function(env, state->tsfn);
  NAPI_THROW_IF_FAILED(env, status, Napi::Value());
  return Napi::Value();
}

// interruptThread(tid, restart?) → whether thread `tid` of this process has
// a call sleeping on it (a *Here call) that is now asked to stop, or (restart
// true, restartable call) sent one SA_RESTART signal (here.h).
Napi::Value InterruptThreadJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int32_t tid;
  if (!ArgInt(env, info[0], "tid", &tid)) return Napi::Value();
  bool restart = false;
  if (info.Length() > 1 && !info[1].IsUndefined() && napi_get_value_bool(env, info[1], &restart) != napi_ok) {
    Napi::TypeError::New(env, "restart must be a boolean").ThrowAsJavaScriptException();
    return Napi::Value();
  }
  return Napi::Boolean::New(env, tid > 0 && InterruptThread(static_cast<pid_t>(tid), restart));
}

// threadId() → the calling thread's id (gettid), which interruptThread names.
Napi::Value ThreadId(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(CurrentThread()));
}

// cancel(handle, restart?) → whether a pending call was asked to stop (or,
// restart true and a restartable call, sent one SA_RESTART signal: wait.h).
// A stopped call settles later, through settle(), with -EINTR or with what
// it had already done.
Napi::Value Cancel(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  double handle;
  if (napi_get_value_double(env, info[0], &handle) != napi_ok) {
    Napi::TypeError::New(env, "handle must be a number").ThrowAsJavaScriptException();
    return Napi::Value();
  }
  bool restart = false;
  if (info.Length() > 1 && !info[1].IsUndefined() && napi_get_value_bool(env, info[1], &restart) != napi_ok) {
    Napi::TypeError::New(env, "restart must be a boolean").ThrowAsJavaScriptException();
    return Napi::Value();
  }
  bool valid = handle >= 1 && handle <= 4294967295.0 && std::floor(handle) == handle;
  return Napi::Boolean::New(env, valid && StateOf(info)->pool.Cancel(static_cast<uint32_t>(handle), restart));
}

// quiesce() → how many pending calls are now held out of the kernel.
Napi::Value Quiesce(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(StateOf(info)->pool.Quiesce()));
}

// resume() → 0, or -errno when a thread could not be started (calls stay held).
Napi::Value Resume(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), StateOf(info)->pool.Resume());
}

// drain(): settles the finished calls now, on this turn.
Napi::Value Drain(const Napi::CallbackInfo& info) {
  Deliver(info.Env(), StateOf(info));
  return Napi::Value();
}

// stats() → { threads, idle, pending, parked, signal }
Napi::Value Stats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  PoolStats stats = StateOf(info)->pool.Stats();
  Napi::Object out = Napi::Object::New(env);
  out.Set("threads", static_cast<double>(stats.threads));
  out.Set("idle", static_cast<double>(stats.idle));
  out.Set("pending", static_cast<double>(stats.pending));
  out.Set("parked", static_cast<double>(stats.parked));
  out.Set("signal", CancelSignal());
  return out;
}

}  // namespace

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  if (CancelSignal() == 0) {
    throw Napi::Error::New(env, "ipcemu addon: no free realtime signal to interrupt blocking calls with");
  }
  auto* state = new AddonState();
  napi_value name = Napi::String::New(env, "ipcemu.settle");
  napi_status status = napi_create_threadsafe_function(env, nullptr, nullptr, name, 0, 1, state, FinalizeState,
                                                       state, CallJs, &state->tsfn);
  if (status != napi_ok) {
    delete state;
    throw Napi::Error::New(env, "ipcemu addon: cannot create its thread-safe function");
  }
  // Nothing pending yet: keepAlive(true) refs it once a call holds the process.
  napi_unref_threadsafe_function(env, state->tsfn);
  napi_add_env_cleanup_hook(env, Cleanup, state);

  auto define = [&](const char* key, Napi::Function::Callback fn) {
    exports.Set(key, Napi::Function::New(env, fn, key, state));
  };
  define("setup", Setup);
  define("keepAlive", KeepAlive);
  define("cancel", Cancel);
  define("quiesce", Quiesce);
  define("resume", Resume);
  define("drain", Drain);
  define("stats", Stats);
  define("interruptThread", InterruptThreadJs);
  define("threadId", ThreadId);
  napi_value memory, io;
  NAPI_THROW_IF_FAILED(env, napi_create_external_arraybuffer(env, state->io, kIoSlots * sizeof(double), nullptr, nullptr,
                                                             &memory), exports);
  NAPI_THROW_IF_FAILED(env, napi_create_typedarray(env, napi_float64_array, kIoSlots, memory, 0, &io), exports);
  exports.Set("io", Napi::Value(env, io));
  NAPI_THROW_IF_FAILED(env, DefineMsg(env, exports, state), exports);
  NAPI_THROW_IF_FAILED(env, DefineSem(env, exports, state), exports);
  NAPI_THROW_IF_FAILED(env, DefinePipe(env, exports, state), exports);
  NAPI_THROW_IF_FAILED(env, DefineSock(env, exports, state), exports);
  NAPI_THROW_IF_FAILED(env, DefineListen(env, exports, state), exports);
  return exports;
}

AddonState::AddonState() : pool(Notify, this) {}

void StoreMtype(AddonState* state, int64_t mtype) {
  double d = static_cast<double>(mtype);
  state->last_mtype = mtype;
  state->io[kIoMtype] = d >= -kSafeMax && d <= kSafeMax ? d : std::nan("");
}

napi_value LongValue(napi_env env, int64_t value) {
  napi_value out;
  double d = static_cast<double>(value);
  if (d >= -kSafeMax && d <= kSafeMax) {
    napi_create_double(env, d, &out);
  } else {
    napi_create_bigint_int64(env, value, &out);
  }
  return out;
}

bool ReadyForCall(napi_env env, AddonState* state) {
  if (state->settle != nullptr) return true;
  napi_throw_error(env, nullptr, "ipcemu addon: setup() must be called before a blocking call");
  return false;
}

napi_value StartedCall(napi_env env, int64_t handle) {
  if (handle < 0) {
    ThrowErrno(env, static_cast<int>(-handle), "pthread_create");
    return nullptr;
  }
  return Result(env, handle);
}

napi_value StartPrepared(napi_env env, AddonState* state, std::unique_ptr<Call> call, bool prepared, const char* syscall) {
  if (!prepared) {
    ThrowErrno(env, ENOMEM, syscall);
    return nullptr;
  }
  return StartedCall(env, state->pool.Start(std::move(call)));
}

}  // namespace ipcemu

static Napi::Object InitModule(Napi::Env env, Napi::Object exports) { return ipcemu::Init(env, exports); }

NODE_API_MODULE(ipcemu, InitModule)
