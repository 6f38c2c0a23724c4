// The addon's state: one object per loaded instance (per Node environment:
// the main thread and each worker thread that loads the addon), freed by an
// environment cleanup hook.
#pragma once

#include <napi.h>

#include <cstdint>
#include <memory>

#include "msg.h"
#include "wait.h"

namespace ipcemu {

// The slots of AddonState::io (host/native/addon.ts IO says the same).
// In, for the *Io calls: the id, the mtype or msgtyp (a safe integer) and
// the flags. Out, after any sync receive: the mtype, or NaN beyond 2^53.
constexpr size_t kIoMsqid = 0;
constexpr size_t kIoType = 1;
constexpr size_t kIoFlags = 2;
constexpr size_t kIoMtype = 3;
constexpr size_t kIoSlots = 4;

struct AddonState {
  AddonState();

  // The host's settle(handle, result, mtype?, data?), set by setup().
  napi_ref settle = nullptr;
  // Settles finished calls on the JavaScript thread. Referenced only while
  // the host says a pending call holds the process (keepAlive).
  napi_threadsafe_function tsfn = nullptr;
  WaitPool pool;
  // The sync calls' buffer (JavaScript thread only).
  MsgBuffer buffer;
  // Numbers shared with JavaScript, which sees them as `io`, a Float64Array
  // over this memory (an external ArrayBuffer). Writing arguments there and
  // reading results back costs a JavaScript store or load; each argument or
  // result that crosses as a napi_value costs a call into the engine.
  // JavaScript thread only. Never freed (kIoSlots doubles per environment):
  // the buffer could be transferred to another thread and outlive us.
  double* const io = new double[kIoSlots]();
  // The last sync receive's mtype, where io[kIoMtype] cannot hold it (NaN).
  int64_t last_mtype = 0;
};

// Records a sync receive's mtype for JavaScript (io[kIoMtype], last_mtype).
void StoreMtype(AddonState* state, int64_t mtype);

// Throws unless setup() registered the settle function: a blocking call needs it.
bool ReadyForCall(napi_env env, AddonState* state);

// The handle of a call the pool started, or throws { errno, syscall: 'pthread_create' }.
napi_value StartedCall(napi_env env, int64_t handle);

// Starts `call` on the pool once `prepared` (its buffers allocated): its
// handle, or throws { errno: ENOMEM, syscall } when it could not be.
napi_value StartPrepared(napi_env env, AddonState* state, std::unique_ptr<Call> call, bool prepared, const char* syscall);

// A C long as JavaScript: a number while it is a safe integer, else a bigint.
napi_value LongValue(napi_env env, int64_t value);

// The module's initialisation (NODE_API_MODULE in addon.cc).
Napi::Object Init(Napi::Env env, Napi::Object exports);

}  // namespace ipcemu
