// SysV message queues: msgget, msgsnd, msgrcv, msgctl for the calling
// process. Non-blocking forms run synchronously on the JavaScript thread;
// blocking ones are Calls run by the WaitPool (wait.h), or sleep on the
// JavaScript thread itself (the *Here forms, here.h).
#pragma once

#include <node_api.h>

#include <cstddef>
#include <cstdint>

namespace ipcemu {

struct AddonState;

// The memory a msgsnd/msgrcv takes: `long mtype` followed by the text.
// Small buffers live on the heap and are reused; one over kHeapMax is a
// MAP_NORESERVE mapping, so a large msgsz costs address space, not memory,
// until the kernel writes into it.
class MsgBuffer {
 public:
  struct Layout {
    long mtype;
    char mtext[1];
  };
  MsgBuffer() = default;
  ~MsgBuffer();
  MsgBuffer(const MsgBuffer&) = delete;
  MsgBuffer& operator=(const MsgBuffer&) = delete;
  // Room for a text of `size` bytes, or nullptr when none can be had.
  Layout* Reserve(size_t size);
  // What the last Reserve gave.
  Layout* Data() const { return reinterpret_cast<Layout*>(data_); }

 private:
  void Release();
  char* data_ = nullptr;
  size_t capacity_ = 0;
  bool mapped_ = false;
};

// Adds msgget, msgsnd, msgsndIo, msgrcv, msgrcvInto, msgrcvIntoIo,
// lastMtype, msgctl, msgsndStart, msgrcvStart, msgsndHere and msgrcvHere to
// `exports`; each function's data is `state`.
napi_status DefineMsg(napi_env env, napi_value exports, AddonState* state);

}  // namespace ipcemu
