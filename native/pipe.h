// Descriptors of the calling process: pipe2, mkfifo, open, unlink, stat,
// read, write, close, fcntl, ioctl(FIONREAD) and poll, plus what sock.cc
// shares (a read buffer, argument blocks, the blocking-call plumbing).
//
// Sync forms never sleep and never touch the description's O_NONBLOCK
// (another descriptor, another process after a fork, may share it). For an
// anonymous pipe or a socket they are preadv2/pwritev2 with RWF_NOWAIT:
// fs/pipe.c and net/socket.c honour IOCB_NOWAIT, and those files carry
// FMODE_NOWAIT. A FIFO does not (fifo_open on Linux 6.18 sets no
// FMODE_NOWAIT: RWF_NOWAIT answers EOPNOTSUPP), so pipe.cc's FIFO paths
// say exactly what they do and where they are not exact.
//
// Blocking forms are Calls on the pool (wait.h) or sleep on the calling
// thread (here.h); every one of them but poll is restartable.
#pragma once

#include <node_api.h>

#include <cstddef>
#include <cstdint>
#include <string>

namespace ipcemu {

struct AddonState;

// Linux's MAX_RW_COUNT (INT_MAX & PAGE_MASK with 4 KiB pages): the most one
// read, write, send or recv moves; a larger count is clamped to it
// (fs/read_write.c: rw_verify_area; lib/iov_iter.c: import_ubuf).
constexpr int64_t kMaxRw = 0x7ffff000;

// The buffer one read or recv fills: zeroed heap memory up to 1 MiB, an
// anonymous MAP_NORESERVE mapping above (its pages cost nothing until the
// kernel writes them), so a huge count asks for no real memory.
class ByteBuffer {
 public:
  ByteBuffer() = default;
  ~ByteBuffer();
  ByteBuffer(const ByteBuffer&) = delete;
  ByteBuffer& operator=(const ByteBuffer&) = delete;
  // Room for `size` bytes (at least 1); null when none can be had.
  uint8_t* Reserve(size_t size);
  uint8_t* Data() const { return data_; }

 private:
  void Release();
  uint8_t* data_ = nullptr;
  size_t capacity_ = 0;
  bool mapped_ = false;
};

// The arguments of a call, missing ones read as undefined; `state` is the function's data.
struct FdArgs {
  static constexpr size_t kMax = 4;
  napi_value argv[kMax];
  AddonState* state;
  FdArgs(napi_env env, napi_callback_info info);
};

// A path: a string without NUL bytes (TypeError otherwise).
bool ArgPath(napi_env env, napi_value value, std::string* out);

// A fresh Uint8Array holding a copy of `length` bytes (null after throwing).
napi_value NewByteArray(napi_env env, const uint8_t* data, size_t length);

// A pair of descriptors as a JavaScript array [a, b].
napi_value NewPair(napi_env env, int a, int b);

// settle(handle, result) or, with `data`, settle(handle, result, undefined, data).
napi_status SettleCall(napi_env env, napi_value settle, uint32_t handle, int64_t result, const uint8_t* data,
                       size_t length);

// Adds the descriptor functions to `exports`; each function's data is `state`.
napi_status DefinePipe(napi_env env, napi_value exports, AddonState* state);

}  // namespace ipcemu
