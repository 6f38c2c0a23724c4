// SysV semaphore sets: semget, semop/semtimedop and semctl for the calling
// process. Non-blocking forms run synchronously on the JavaScript thread;
// blocking ones are Calls run by the WaitPool (wait.h), or sleep on the
// JavaScript thread itself (semopHere, here.h).
//
// Operations arrive as one flat Int16Array, three shorts per operation:
// exactly struct sembuf's layout (sem_num, sem_op, sem_flg), so no object is
// read per operation. Every semop goes to the kernel as semtimedop (a NULL
// timeout for plain semop), the one system call glibc's semop makes too.
#pragma once

#include <node_api.h>

namespace ipcemu {

struct AddonState;

// Adds semget, semop, semopStart, semopHere, semctl, semgetall and semsetall
// to `exports`; each function's data is `state`.
napi_status DefineSem(napi_env env, napi_value exports, AddonState* state);

}  // namespace ipcemu
