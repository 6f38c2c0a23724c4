// Unix socket pairs of the calling process: socketpair, send, recv,
// shutdown, setsockopt and getsockopt at SOL_SOCKET. Sends always carry
// MSG_NOSIGNAL (a peer gone answers EPIPE, no SIGPIPE); sync forms add
// MSG_DONTWAIT, which is per call and leaves the description's O_NONBLOCK
// alone. Blocking send and recv are restartable Calls (wait.h) or sleep on
// the calling thread (here.h), as pipe.h's reads and writes.
#pragma once

#include <node_api.h>

namespace ipcemu {

struct AddonState;

// Adds socketpair, send, sendStart, sendHere, recv, recvStart, recvHere,
// shutdown, setsockopt and getsockopt to `exports`; each function's data is `state`.
napi_status DefineSock(napi_env env, napi_value exports, AddonState* state);

}  // namespace ipcemu
