/**
 * ipcemu: Linux System V and POSIX IPC behind one interface, on an exact
 * wasm kernel model (`openEmulator`) or on the real kernel (`openNative`).
 */

export * from './constants.js';
export { IpcError, ERRNO, errnoName, errnoOf } from './errors.js';
export type { ErrnoCode } from './errors.js';
export type {
  BackendName, CallOptions, Datagram, DatagramFrom, Emulator, IpcPerm, Limits, Message, MsgInfo, MsqidDs, MsqidSet, MType,
  PollFd, Process, Received, SemBuf, SemidDs, SemidSet, SemInfo, SimProcess, SpawnOptions, Stat, Timespec, WithResult,
} from './api.js';
export { openEmulator } from './emu/index.js';
export type { EmulatorOptions } from './emu/index.js';
export { openNative } from './native/index.js';
export type { NativeKernel } from './native/index.js';
export { MessageQueue } from './objects/msg.js';
export type { OpenMode, OpenOptions, ReceiveOptions, ReceivedMessage, SendOptions } from './objects/msg.js';
export { SemaphoreSet } from './objects/sem.js';
export type { AcquireOptions, ReleaseOptions, SemOpenOptions } from './objects/sem.js';
export { Descriptor } from './objects/descriptor.js';
export type { DescriptorType } from './objects/descriptor.js';
export { Fifo, Pipe } from './objects/pipe.js';
export type { FifoAccess, FifoOpenOptions, PipeOptions } from './objects/pipe.js';
export { SocketPair } from './objects/socket.js';
export { connectUnix, UnixServer } from './objects/server.js';
export { UnixDatagram } from './objects/datagram.js';
export type { DatagramReceiveOptions, UnixDatagramOptions } from './objects/datagram.js';
export type { ConnectOptions, ConnectionType, UnixServerOptions } from './objects/server.js';
export type { SocketPairOptions, SocketType } from './objects/socket.js';
export { DEFAULT_HIGH_WATER_MARK, DescriptorDuplex, DescriptorReadable, DescriptorWritable } from './objects/stream.js';
export type {
  DuplexStreamOptions, ReadStreamOptions, StreamOptions, WebReadStreamOptions, WebWriteStreamOptions, WritableChunk,
  WriteStreamOptions,
} from './objects/stream.js';
