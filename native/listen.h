// Named AF_UNIX sockets of the calling process: socket, bind, listen,
// connect and accept4. connect and accept4 may sleep (a full backlog, an
// empty queue): they are restartable Calls on the pool (wait.h) or sleep on
// the calling thread (here.h). Neither has a per-call "don't wait" flag
// (net/unix/af_unix.c: unix_stream_connect and unix_accept read O_NONBLOCK
// from the description), so their plain forms here are only for callers
// that know the call cannot sleep (host/native/listen.ts says when).
#pragma once

#include <node_api.h>

namespace ipcemu {

struct AddonState;

// Adds socket, bind, listen, connect, connectStart, connectHere, accept4,
// accept4Start and accept4Here to `exports`; each function's data is `state`.
napi_status DefineListen(napi_env env, napi_value exports, AddonState* state);

}  // namespace ipcemu
