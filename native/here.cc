#include "here.h"

#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "wait.h"

namespace ipcemu {

namespace {

// How often an interrupted call still in the kernel is signalled again.
constexpr auto kResend = std::chrono::milliseconds(1);

// One call under RunHere. Guarded by Registry::mu.
struct Entry {
  bool restartable = false;
  bool interrupted = false;
  // Between the interrupted check and the system call's return: a signal
  // now either ends the call or is spent just before it (then resent).
  bool inside = false;
};

struct Registry {
  std::mutex mu;
  std::condition_variable wake;              // the resender has work
  std::unordered_map<pid_t, Entry*> calls;   // by thread: at most one each
  std::vector<pid_t> resend;                 // threads whose interrupted call may still be inside
  bool resender = false;                     // its thread was started
};

// Never freed: the resender is a detached thread that may wait on it until
// the process ends, after static destructors have run.
Registry& Shared() {
  static Registry* registry = new Registry();
  return *registry;
}

void* ResenderMain(void*) {
  Registry& r = Shared();
  std::unique_lock<std::mutex> lock(r.mu);
  for (;;) {
    if (r.resend.empty()) {
      r.wake.wait(lock);
      continue;
    }
    r.wake.wait_for(lock, kResend);
    // A thread whose call ended may have started another, not interrupted:
    // the flag, not the thread, says whether the signal is still wanted.
    auto gone = std::remove_if(r.resend.begin(), r.resend.end(), [&](pid_t tid) {
      auto found = r.calls.find(tid);
      if (found == r.calls.end() || !found->second->interrupted) return true;
      if (found->second->inside) SignalThread(tid);
      return false;
    });
    r.resend.erase(gone, r.resend.end());
  }
  return nullptr;
}

// Caller holds r.mu.
void StartResender(Registry& r) {
  if (r.resender) return;
  pthread_t thread;
  if (SpawnThread(&thread, ResenderMain, nullptr, 0) != 0) return;  // the first signal must do; retried next time
  pthread_detach(thread);
  r.resender = true;
}

}  // namespace

pid_t CurrentThread() { return static_cast<pid_t>(syscall(SYS_gettid)); }

int64_t RunHere(int64_t (*call)(void*), void* context, bool restartable) {
  Registry& r = Shared();
  const pid_t tid = CurrentThread();
  Entry entry;
  entry.restartable = restartable;
  std::unique_lock<std::mutex> lock(r.mu);
  // One thread sleeps in one call: a second entry could only come from a
  // signal handler, and ours runs no code.
  if (!r.calls.emplace(tid, &entry).second) return -EDEADLK;
  lock.unlock();

  sigset_t old;
  UnblockCallSignals(&old);

  int64_t result;
  lock.lock();
  for (;;) {
    if (entry.interrupted) {
      result = -EINTR;
      break;
    }
    entry.inside = true;
    lock.unlock();
    EntryDelay();
    result = call(context);
    lock.lock();
    entry.inside = false;
    if (result != -EINTR) break;
  }
  r.calls.erase(tid);
  lock.unlock();
  // No signal is sent once `inside` is false under the lock; one sent before
  // is delivered on the next return from the kernel, to a handler that does
  // nothing, or stays pending if the old mask blocks it.
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  return result;
}

bool InterruptThread(pid_t tid, bool restart) {
  Registry& r = Shared();
  std::lock_guard<std::mutex> lock(r.mu);
  auto found = r.calls.find(tid);
  if (found == r.calls.end()) return false;
  Entry* entry = found->second;
  if (entry->interrupted) return true;
  if (restart && entry->restartable) {
    if (entry->inside) SignalThreadRestart(tid);
    return true;
  }
  entry->interrupted = true;
  if (entry->inside) SignalThread(tid);
  r.resend.push_back(tid);
  StartResender(r);
  r.wake.notify_one();
  return true;
}

}  // namespace ipcemu
