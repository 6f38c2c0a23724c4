/**
 * The native backend: this process over the real Linux kernel, through the
 * addon (native/). `openNative()` throws one Error that says why where the
 * addon cannot load (another OS, a failed or skipped build).
 */

import type { Process } from '../api.js';
import { FdCalls, rawFd } from './fd.js';
import { loadAddon } from './load.js';
import { MsgCalls } from './msg.js';
import { NativeProcess, type NativeCalls } from './process.js';
import { rawSem, SemCalls } from './sem.js';
import { rawSock, SockCalls } from './sock.js';
import { BlockingCalls } from './wait.js';

/** The real kernel, as seen by this process. */
export interface NativeKernel {
  readonly backend: 'native';
  /** This process: every call is made by it, with its pid and credentials. Always the same object. */
  self(): Process;
}

let kernel: NativeKernel | undefined;
let calls: NativeCalls | undefined;

/** The calls of this thread's addon instance, one object per kind, made once. */
export function nativeCalls(): NativeCalls {
  if (calls === undefined) {
    const raw = loadAddon();
    const blocking = new BlockingCalls(raw);
    calls = {
      msg: new MsgCalls(raw, blocking),
      sem: new SemCalls(rawSem(raw), blocking),
      fd: new FdCalls(rawFd(raw), blocking),
      sock: new SockCalls(rawSock(raw), blocking),
    };
  }
  return calls;
}

/** The real kernel (Linux only); throws an Error that explains why when the addon is not there. */
export function openNative(): NativeKernel {
  if (kernel !== undefined) return kernel;
  const me = new NativeProcess(nativeCalls());
  kernel = { backend: 'native', self: () => me };
  return kernel;
}
