/**
 * ipcemu: Linux System V and POSIX IPC behind one interface, on an exact
 * wasm kernel model (`openEmulator`) or on the real kernel (`openNative`).
 */

export * from './constants.js';
export { IpcError, ERRNO, errnoName, errnoOf } from './errors.js';
export type { ErrnoCode } from './errors.js';
export type {
  BackendName, CallOptions, Emulator, IpcPerm, Limits, Message, MsgInfo, MsqidDs, MsqidSet, MType,
  Process, Received, SemBuf, SemidDs, SemidSet, SemInfo, SimProcess, SpawnOptions, Timespec, WithResult,
} from './api.js';
export { openEmulator } from './emu/index.js';
export type { EmulatorOptions } from './emu/index.js';
export { openNative } from './native/index.js';
export type { NativeKernel } from './native/index.js';
export { MessageQueue } from './objects/msg.js';
export type { OpenMode, OpenOptions, ReceiveOptions, ReceivedMessage, SendOptions } from './objects/msg.js';
export { SemaphoreSet } from './objects/sem.js';
export type { AcquireOptions, ReleaseOptions, SemOpenOptions } from './objects/sem.js';
