// Blocking calls on the calling thread, and their interruption from another
// thread.
//
// Why: Linux sometimes records the calling THREAD, not the process. After a
// pipelined receive msg_lrpid is the receiver's thread id (ipc/msg.c:
// pipelined_send(), task_pid(msr->r_tsk)), so a receive that sleeps on a
// pool thread (wait.h) leaves that thread's id where a single-threaded C
// program would leave its pid. The conformance agent therefore makes an
// actor's call on its main thread when that thread is free (FORMAT.md), and
// the call sleeps right there: that thread's event loop stops until the
// call returns, while other threads of the process go on.
//
// Interruption is a thread-directed signal, as in the pool: InterruptThread
// marks the thread's call interrupted and sends the cancel signal (its
// handler has no SA_RESTART, so the system call fails with EINTR; SysV
// calls are never restarted anyway). A signal that lands just before the
// thread enters the kernel is spent there; so the flag is checked before
// every entry, and a resender thread signals the thread again every
// millisecond until the call has returned. An EINTR nobody asked for (a late
// signal meant for an earlier call) sends the call back into the kernel. A
// call that completes although it was interrupted keeps its result: a
// message it took is delivered, never dropped. The test hook
// IPCEMU_TEST_ENTRY_DELAY_US (wait.h) widens the lost-signal window here too.
//
// A thread has at most one such call at a time (it sleeps in it), so the
// thread id names the call. The registry is process-wide: any thread (a
// worker_thread's JavaScript, say) can interrupt any other's call.
#pragma once

#include <sys/types.h>

#include <cstdint>

namespace ipcemu {

// Runs `call(context)` (one system call: a result >= 0, or -errno) on this
// thread with the cancel and restart signals unblocked, again after each
// EINTR nobody asked for. Answers its result, or -EINTR once interrupted.
// `restartable`: Linux restarts the call after a handler with SA_RESTART
// (pipe/socket I/O, FIFO open; not SysV calls, not poll).
int64_t RunHere(int64_t (*call)(void*), void* context, bool restartable = false);

// Interrupts the call thread `tid` has under RunHere. Answers whether it has
// one (now asked to stop, or asked before); it returns -EINTR, or what it
// had already done if it completed first. With `restart` and a restartable
// call, the SA_RESTART signal is sent once instead (wait.h) and the call is
// not marked interrupted: the kernel restarts it or returns a partial count.
bool InterruptThread(pid_t tid, bool restart = false);

// The calling thread's id (gettid).
pid_t CurrentThread();

}  // namespace ipcemu
