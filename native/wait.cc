#include "wait.h"

#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>

namespace ipcemu {

namespace {

// A worker idle this long returns; the pool keeps no thread it does not need.
constexpr auto kIdleRetire = std::chrono::seconds(5);
// How often a cancelled call still in the kernel is signalled again.
constexpr auto kResend = std::chrono::milliseconds(1);
// How long Quiesce/Shutdown wait between signals (they block the caller).
constexpr auto kDrainPoll = std::chrono::microseconds(200);
// A worker only makes one system call with heap buffers: a small stack is plenty.
constexpr size_t kWorkerStack = 256 * 1024;

int g_signo = 0;
int g_restart_signo = 0;
std::once_flag g_signal_once;
// Tests only (IPCEMU_TEST_ENTRY_DELAY_US): a pause between the cancelled
// check and the system call. It widens the window where a cancel signal is
// spent before the thread is in the kernel, so the resend can be shown to
// end the call anyway.
unsigned g_entry_delay_us = 0;

// Runs on the worker's own stack; it only has to exist (and not have
// SA_RESTART) for the interrupted system call to fail with EINTR.
void OnCancelSignal(int) {}
void OnRestartSignal(int) {}

void InstallCancelSignal() {
  if (const char* delay = std::getenv("IPCEMU_TEST_ENTRY_DELAY_US")) {
    g_entry_delay_us = static_cast<unsigned>(std::strtoul(delay, nullptr, 10));
  }
  // Realtime signals nobody handles: Node, libuv and V8 use none of them,
  // and JavaScript cannot listen to them (process.on takes named signals).
  // The first one found interrupts (no SA_RESTART: the interrupted call must
  // return EINTR), the second restarts (SA_RESTART).
  int found[2] = {0, 0};
  int n = 0;
  for (int sig = SIGRTMAX - 1; sig >= SIGRTMIN + 2 && n < 2; --sig) {
    struct sigaction old {};
    if (sigaction(sig, nullptr, &old) != 0) continue;
    if ((old.sa_flags & SA_SIGINFO) != 0 || old.sa_handler != SIG_DFL) continue;
    struct sigaction action {};
    action.sa_handler = n == 0 ? OnCancelSignal : OnRestartSignal;
    sigemptyset(&action.sa_mask);
    action.sa_flags = n == 0 ? 0 : SA_RESTART;
    if (sigaction(sig, &action, nullptr) == 0) found[n++] = sig;
  }
  if (n == 2) {
    g_signo = found[0];
    g_restart_signo = found[1];
  } else if (n == 1) {
    // One is no use: without both, the addon does not load (CancelSignal() is 0).
    signal(found[0], SIG_DFL);
  }
}

}  // namespace

void SignalThread(pid_t tid) {
  // tgkill, not pthread_kill: a tid of a live thread is always safe to name,
  // and callers only name threads they know are inside a call.
  syscall(SYS_tgkill, getpid(), tid, g_signo);
}

void SignalThreadRestart(pid_t tid) { syscall(SYS_tgkill, getpid(), tid, g_restart_signo); }

void UnblockCallSignals(sigset_t* old) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, g_signo);
  sigaddset(&set, g_restart_signo);
  pthread_sigmask(SIG_UNBLOCK, &set, old);
}

void EntryDelay() {
  if (g_entry_delay_us != 0) usleep(g_entry_delay_us);
}

int SpawnThread(pthread_t* thread, void* (*main)(void*), void* arg, size_t stack) {
  pthread_attr_t attr;
  if (int err = pthread_attr_init(&attr)) return err;
  if (stack != 0) pthread_attr_setstacksize(&attr, stack);
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  int err = pthread_create(thread, &attr, main, arg);
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  pthread_attr_destroy(&attr);
  return err;
}

int CancelSignal() {
  std::call_once(g_signal_once, InstallCancelSignal);
  return g_signo;
}

int RestartSignal() {
  std::call_once(g_signal_once, InstallCancelSignal);
  return g_restart_signo;
}

WaitPool::WaitPool(void (*notify)(void*), void* context) : notify_(notify), context_(context) {}

WaitPool::~WaitPool() { Shutdown(); }

int64_t WaitPool::Start(std::unique_ptr<Call> call) {
  std::unique_lock<std::mutex> lock(mu_);
  if (closing_) return -ESHUTDOWN;
  ReapFinished(lock);
  uint32_t handle = next_handle_++;
  // 0 is never a handle; after 2^32 calls the counter wraps past live ones.
  while (handle == 0 || calls_.count(handle) != 0) handle = next_handle_++;
  Call* raw = call.get();
  raw->handle = handle;
  calls_.emplace(handle, std::move(call));
  if (paused_) {
    raw->phase_ = Call::Phase::kParked;
    parked_.push_back(raw);
    return handle;
  }
  if (int err = Assign(raw)) {
    calls_.erase(handle);
    return -err;
  }
  return handle;
}

int WaitPool::Assign(Call* call) {
  call->phase_ = Call::Phase::kQueued;
  if (!idle_.empty()) {
    Worker* worker = idle_.back();
    idle_.pop_back();
    worker->idle = false;
    worker->next = call;
    worker->wake.notify_one();
    return 0;
  }
  auto worker = std::make_unique<Worker>();
  worker->pool = this;
  worker->next = call;
  if (int err = SpawnThread(&worker->thread, WorkerMain, worker.get(), kWorkerStack)) return err;
  workers_.push_back(std::move(worker));
  return 0;
}

void* WaitPool::WorkerMain(void* arg) {
  auto* worker = static_cast<Worker*>(arg);
  // The owning pool outlives its threads: Shutdown joins them all.
  worker->pool->Work(worker);
  return nullptr;
}

void WaitPool::Work(Worker* self) {
  UnblockCallSignals(nullptr);
  const pid_t tid = static_cast<pid_t>(syscall(SYS_gettid));

  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    if (self->next == nullptr) {
      if (!closing_) {
        if (!self->idle) {
          self->idle = true;
          idle_.push_back(self);
        }
        self->wake.wait_for(lock, kIdleRetire, [&] { return self->next != nullptr || closing_; });
        if (self->next != nullptr) continue;
      }
      // Nobody handed it work: retire (idle too long) or stop (closing).
      if (self->idle) {
        idle_.erase(std::find(idle_.begin(), idle_.end(), self));
        self->idle = false;
      }
      break;
    }
    Call* call = self->next;
    self->next = nullptr;
    call->phase_ = Call::Phase::kRunning;
    call->tid_ = tid;
    int64_t result;
    for (;;) {
      // Checked before every entry: a signal sent before the thread is in the
      // kernel is lost, and the canceller's next one finds this flag set.
      if (call->cancelled_ || call->park_) {
        result = -EINTR;
        break;
      }
      lock.unlock();
      EntryDelay();
      result = call->Run();
      lock.lock();
      // EINTR without a request is a late signal meant for an earlier call.
      if (result != -EINTR) break;
    }
    call->tid_ = 0;
    if (result == -EINTR && call->park_ && !call->cancelled_) {
      call->phase_ = Call::Phase::kParked;
      parked_.push_back(call);
      changed_.notify_all();
      continue;
    }
    call->result = result;
    call->phase_ = Call::Phase::kDone;
    done_.push_back(call);
    changed_.notify_all();
    // Available again before the owner hears of this call, so that the
    // call its settlement starts finds this thread, not a new one.
    if (!closing_) {
      self->idle = true;
      idle_.push_back(self);
    }
    if (!notified_ && !closing_) {
      notified_ = true;
      lock.unlock();
      notify_(context_);
      lock.lock();
    }
  }
  self->finished = true;
  changed_.notify_all();
}

bool WaitPool::Cancel(uint32_t handle, bool restart) {
  std::unique_lock<std::mutex> lock(mu_);
  auto found = calls_.find(handle);
  if (found == calls_.end()) return false;
  Call* call = found->second.get();
  if (call->phase_ == Call::Phase::kDone || call->cancelled_) return false;
  if (restart && call->Restartable()) {
    // Queued or parked: not in the kernel, so the signal would find nothing
    // to restart; the call goes on sleeping either way.
    if (call->phase_ == Call::Phase::kRunning) SignalThreadRestart(call->tid_);
    return true;
  }
  call->cancelled_ = true;
  switch (call->phase_) {
    case Call::Phase::kParked: {
      // Out of the kernel already: it ends here, as if interrupted.
      parked_.erase(std::find(parked_.begin(), parked_.end(), call));
      call->result = -EINTR;
      call->phase_ = Call::Phase::kDone;
      done_.push_back(call);
      if (!notified_) {
        notified_ = true;
        lock.unlock();
        notify_(context_);
      }
      return true;
    }
    case Call::Phase::kRunning:
      SignalThread(call->tid_);
      [[fallthrough]];
    case Call::Phase::kQueued:
      cancelling_.push_back(handle);
      StartCanceller();
      canceller_wake_.notify_one();
      return true;
    case Call::Phase::kDone:
      break;
  }
  return false;
}

void WaitPool::StartCanceller() {
  if (canceller_.joinable()) return;
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  try {
    canceller_ = std::thread([this] { CancellerMain(); });
  } catch (const std::system_error&) {
    // No thread: the first signal, sent by Cancel itself, must do. It only
    // fails to land in the rare race described in wait.h.
  }
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
}

void WaitPool::CancellerMain() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!closing_) {
    if (cancelling_.empty()) {
      canceller_wake_.wait(lock);
      continue;
    }
    canceller_wake_.wait_for(lock, kResend);
    if (closing_) break;
    auto gone = std::remove_if(cancelling_.begin(), cancelling_.end(), [&](uint32_t handle) {
      auto found = calls_.find(handle);
      if (found == calls_.end()) return true;
      Call* call = found->second.get();
      if (call->phase_ == Call::Phase::kRunning) {
        SignalThread(call->tid_);
        return false;
      }
      return call->phase_ != Call::Phase::kQueued;
    });
    cancelling_.erase(gone, cancelling_.end());
  }
}

void WaitPool::SignalRunning() {
  for (auto& entry : calls_) {
    if (entry.second->phase_ == Call::Phase::kRunning) SignalThread(entry.second->tid_);
  }
}

void WaitPool::DrainKernel(std::unique_lock<std::mutex>& lock) {
  for (;;) {
    bool inside = false;
    for (auto& entry : calls_) {
      auto phase = entry.second->phase_;
      if (phase == Call::Phase::kRunning || phase == Call::Phase::kQueued) inside = true;
    }
    if (!inside) return;
    SignalRunning();
    changed_.wait_for(lock, kDrainPoll);
  }
}

size_t WaitPool::Quiesce() {
  std::unique_lock<std::mutex> lock(mu_);
  if (closing_) return 0;
  paused_ = true;
  for (auto& entry : calls_) {
    auto phase = entry.second->phase_;
    if (phase == Call::Phase::kRunning || phase == Call::Phase::kQueued) entry.second->park_ = true;
  }
  DrainKernel(lock);
  return parked_.size();
}

int WaitPool::Resume() {
  std::unique_lock<std::mutex> lock(mu_);
  if (closing_) return 0;
  paused_ = false;
  std::vector<Call*> held;
  held.swap(parked_);
  for (size_t i = 0; i < held.size(); ++i) {
    Call* call = held[i];
    call->park_ = false;
    if (int err = Assign(call)) {
      for (size_t j = i; j < held.size(); ++j) {
        held[j]->phase_ = Call::Phase::kParked;
        parked_.push_back(held[j]);
      }
      paused_ = true;
      return -err;
    }
  }
  return 0;
}

std::vector<std::unique_ptr<Call>> WaitPool::TakeDone() {
  std::unique_lock<std::mutex> lock(mu_);
  std::vector<std::unique_ptr<Call>> out;
  out.reserve(done_.size());
  for (Call* call : done_) {
    auto found = calls_.find(call->handle);
    out.push_back(std::move(found->second));
    calls_.erase(found);
  }
  done_.clear();
  notified_ = false;
  return out;
}

void WaitPool::ReapFinished(std::unique_lock<std::mutex>& lock) {
  std::vector<pthread_t> ended;
  for (auto it = workers_.begin(); it != workers_.end();) {
    if ((*it)->finished) {
      ended.push_back((*it)->thread);
      it = workers_.erase(it);
    } else {
      ++it;
    }
  }
  if (ended.empty()) return;
  // A finished worker has released mu_ for good and is returning.
  lock.unlock();
  for (pthread_t thread : ended) pthread_join(thread, nullptr);
  lock.lock();
}

void WaitPool::Shutdown() {
  std::unique_lock<std::mutex> lock(mu_);
  if (closing_) return;
  closing_ = true;
  for (auto& entry : calls_) entry.second->cancelled_ = true;
  for (Worker* worker : idle_) worker->wake.notify_one();
  canceller_wake_.notify_all();
  for (;;) {
    bool alive = false;
    for (auto& worker : workers_) alive = alive || !worker->finished;
    if (!alive) break;
    SignalRunning();
    for (Worker* worker : idle_) worker->wake.notify_one();
    changed_.wait_for(lock, kDrainPoll);
  }
  lock.unlock();
  if (canceller_.joinable()) canceller_.join();
  lock.lock();
  ReapFinished(lock);
  // Results nobody can receive any more: the environment is going away.
  done_.clear();
  parked_.clear();
  calls_.clear();
}

PoolStats WaitPool::Stats() {
  std::unique_lock<std::mutex> lock(mu_);
  size_t alive = 0;
  for (auto& worker : workers_) alive += worker->finished ? 0 : 1;
  return PoolStats{alive, idle_.size(), calls_.size(), parked_.size()};
}

}  // namespace ipcemu
