// Blocking calls on threads of our own, and their cancellation.
//
// A call that may sleep in the kernel never runs on the JavaScript thread nor
// on libuv's pool (4 threads: four sleeping receives would stall every fs
// call). Each one is handed to a worker thread of a pool that grows on demand
// (one thread per call asleep at the same time) and shrinks when threads stay
// idle. A finished call goes on the done list, and the owner is told once per
// batch (`notify`, from the worker) so that it can settle the promises on the
// JavaScript thread.
//
// Cancellation is a signal: the worker's thread is sent `signo`, whose handler
// is installed without SA_RESTART, so the sleeping msgrcv/msgsnd fails with
// EINTR (SysV calls are never restarted anyway). A second signal, whose
// handler has SA_RESTART, is what an interrupt "with restart" delivers, once,
// to a restartable call (a pipe/FIFO/socket read, write, send, recv or FIFO
// open): the kernel then restarts the call (fs/pipe.c: -ERESTARTSYS) or
// returns the bytes it had already moved. Nothing resends it: one lost
// before the thread entered the kernel is the same as one the kernel
// restarted after. The signal may land just
// before the thread enters the system call, where it would be lost; so the
// cancelled flag is checked before every entry, and a canceller thread sends
// the signal again every millisecond until the worker has left the call. A
// stray EINTR (a signal for an earlier call, sent just as it ended) is not a
// cancellation: the call goes back into the kernel. A call that completes
// although it was cancelled keeps its result: a received message is
// delivered, never dropped.
//
// A thread that ends a call is idle again before the owner hears of it, so
// a call its settlement starts reuses it: one-at-a-time traffic keeps one
// thread. (A hand-off costs ~25 us round trip here; creating a thread per
// call would add ~50 us.) IPCEMU_TEST_ENTRY_DELAY_US, for tests only, pauses
// between the cancelled check and the system call to widen the lost-signal
// window.
//
// Quiesce/Resume take every call out of the kernel and put it back. The host
// quiesces when the event loop runs dry (beforeExit): pending calls then do
// not keep the process alive, and none sits in the kernel at exit, where a
// message it took would be lost with the process.
#pragma once

#include <pthread.h>
#include <signal.h>
#include <sys/types.h>

#include <condition_variable>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include <node_api.h>

namespace ipcemu {

// The signal that interrupts a worker's system call: chosen (a free realtime
// signal) and its handler installed once per process. 0 if none was free.
int CancelSignal();

// The signal whose handler has SA_RESTART (chosen with CancelSignal, which
// must have run). 0 if none was free.
int RestartSignal();

// Sends the cancel signal to thread `tid` of this process. Callers name only
// threads they know are inside a call (under the lock that says so).
void SignalThread(pid_t tid);

// Sends the SA_RESTART signal once to thread `tid` (same rule for callers).
void SignalThreadRestart(pid_t tid);

// Unblocks both signals on the calling thread; `old` (may be null) receives the previous mask.
void UnblockCallSignals(sigset_t* old);

// Tests only: the pause IPCEMU_TEST_ENTRY_DELAY_US asks for between the
// cancelled check and the system call (none otherwise).
void EntryDelay();

// Starts a thread with every signal blocked, so that process-directed
// signals (SIGINT, SIGCHLD, ...) go to Node's threads, never to ours.
// `stack` 0: the default size. Answers 0 or an errno.
int SpawnThread(pthread_t* thread, void* (*main)(void*), void* arg, size_t stack);

// One blocking system call.
class Call {
 public:
  virtual ~Call() = default;
  // Makes the system call once, on a worker thread: a result >= 0, or -errno.
  virtual int64_t Run() = 0;
  // Hands the outcome to JavaScript: calls settle(handle, result, ...). JavaScript thread.
  virtual napi_status Settle(napi_env env, napi_value settle) = 0;
  // Whether Linux restarts this call after a handler installed with
  // SA_RESTART (pipe and socket I/O, FIFO open); SysV calls and poll never.
  virtual bool Restartable() const { return false; }

  uint32_t handle = 0;
  // The outcome once done: >= 0, or -errno (-EINTR when cancelled).
  int64_t result = 0;

 private:
  friend class WaitPool;
  enum class Phase { kQueued, kRunning, kParked, kDone };
  // Guarded by the pool's mutex.
  Phase phase_ = Phase::kQueued;
  bool cancelled_ = false;
  bool park_ = false;
  pid_t tid_ = 0;
};

struct PoolStats {
  size_t threads;   // worker threads alive
  size_t idle;      // of which waiting for work
  size_t pending;   // calls started and not yet settled
  size_t parked;    // calls taken out of the kernel by Quiesce
};

class WaitPool {
 public:
  // `notify(context)` is called from a worker when the done list stops being empty.
  WaitPool(void (*notify)(void*), void* context);
  ~WaitPool();
  WaitPool(const WaitPool&) = delete;
  WaitPool& operator=(const WaitPool&) = delete;

  // Starts `call` (JavaScript thread). Answers its handle, or -errno when no
  // thread could be started for it (the call is then dropped).
  int64_t Start(std::unique_ptr<Call> call);
  // Cancels a pending call; false if the handle is unknown or already done.
  // With `restart`, a restartable call is sent the SA_RESTART signal once
  // instead and is not marked cancelled (the kernel decides); any other call
  // is cancelled as without it.
  bool Cancel(uint32_t handle, bool restart = false);
  // Takes every pending call out of the kernel (JavaScript thread; returns
  // once none is in a system call) and holds new ones until Resume.
  // Answers how many calls are held.
  size_t Quiesce();
  // Puts the held calls back into the kernel. Answers -errno if a thread
  // could not be started (the calls stay held), else 0.
  int Resume();
  // The finished calls, in the order they finished.
  std::vector<std::unique_ptr<Call>> TakeDone();
  // Ends every call and joins every thread (environment teardown).
  void Shutdown();
  PoolStats Stats();

 private:
  struct Worker {
    WaitPool* pool = nullptr;
    pthread_t thread{};
    std::condition_variable wake;
    Call* next = nullptr;   // handed over by Assign
    bool idle = false;      // on idle_
    bool finished = false;  // its thread has returned (retired or shut down)
  };

  static void* WorkerMain(void* worker);
  void Work(Worker* self);
  // Gives `call` to an idle worker or a new one. Caller holds mu_.
  int Assign(Call* call);
  void StartCanceller();
  void CancellerMain();
  // Signals the calls in the kernel until none is queued or running (each
  // has been asked to leave). Caller holds `lock`.
  void DrainKernel(std::unique_lock<std::mutex>& lock);
  void ReapFinished(std::unique_lock<std::mutex>& lock);
  void SignalRunning();

  void (*notify_)(void*);
  void* context_;

  std::mutex mu_;
  std::condition_variable changed_;  // a call left kQueued/kRunning, or a worker finished
  std::unordered_map<uint32_t, std::unique_ptr<Call>> calls_;  // every pending call
  std::list<std::unique_ptr<Worker>> workers_;
  std::vector<Worker*> idle_;
  std::vector<Call*> done_;
  std::vector<Call*> parked_;
  std::vector<uint32_t> cancelling_;  // cancelled calls the canceller re-signals
  uint32_t next_handle_ = 1;
  bool notified_ = false;  // notify_ was called and TakeDone has not run since
  bool paused_ = false;    // between Quiesce and Resume
  bool closing_ = false;

  std::thread canceller_;
  std::condition_variable canceller_wake_;
};

}  // namespace ipcemu
