// The addon's state: one object per loaded instance (per Node environment:
// the main thread and each worker thread that loads the addon), freed by an
// environment cleanup hook.
#pragma once

#include <napi.h>

#include <cstdint>

#include "msg.h"
#include "wait.h"

namespace ipcemu {

struct AddonState {
  AddonState();

  // The host's settle(handle, result, mtype?, data?), set by setup().
  napi_ref settle = nullptr;
  // Settles finished calls on the JavaScript thread; unreferenced, so
  // pending calls never keep the event loop alive.
  napi_threadsafe_function tsfn = nullptr;
  WaitPool pool;
  // The sync calls' buffer (JavaScript thread only).
  MsgBuffer buffer;
  // The last sync receive's mtype, where its answer could not carry it.
  int64_t last_mtype = 0;
};

// A C long as JavaScript: a number while it is a safe integer, else a bigint.
napi_value LongValue(napi_env env, int64_t value);

// The module's initialisation (NODE_API_MODULE in addon.cc).
Napi::Object Init(Napi::Env env, Napi::Object exports);

}  // namespace ipcemu
