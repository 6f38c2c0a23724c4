/**
 * Blocking calls on the native backend: the addon runs each on a thread of
 * its own (native/wait.h) and settles it through settle(); this module turns
 * that into a promise, maps AbortSignal and `timeout` onto the addon's
 * cancel(), and takes calls out of the kernel when the process is about to
 * end.
 *
 * A cancelled call is not rejected at once: it rejects when the addon says
 * the thread has left the kernel, with EINTR — or resolves, if the call
 * completed first (a message it took is delivered, never dropped).
 *
 * Exit: a pending call keeps the event loop alive unless it was started
 * with `ref: false` (api.ts), as a pending socket read does: the addon's
 * thread-safe function is ref'd while at least one such call is pending,
 * and a call's `timeout` timer is ref'd or not as the call is. When the loop
 * runs dry ('beforeExit', so only unref'd calls are pending), every call is
 * taken out of the kernel (quiesce), anything that completed meanwhile is
 * settled, and the held calls go back into the kernel only if the loop then
 * goes on (an unref'd immediate runs only then). So at exit no call sits in
 * the kernel, where a message it took would be lost with the process.
 * process.exit() skips 'beforeExit': its 'exit' listener quiesces too, but
 * results not yet settled then are lost, as a C program's would be.
 */

import { callOptions } from '../validate.js';
import type { CallOptions, MType } from '../api.js';
import { ERRNO, IpcError } from '../errors.js';
import { isRawErrno, type RawAddon } from './addon.js';

/** How a blocking call ended well: msgsnd's 0, msgrcv's length with mtype and data, read's count with data. */
export interface Outcome {
  result: number;
  mtype?: MType;
  data?: Uint8Array;
}

interface Pending {
  readonly syscall: string;
  readonly resolve: (outcome: Outcome) => void;
  readonly reject: (error: unknown) => void;
  /** It holds the process (counted in `held`). */
  readonly ref: boolean;
  /** Linux restarts it after a handler installed with SA_RESTART (pipe/socket I/O, FIFO open). */
  readonly restartable: boolean;
  signal?: AbortSignal;
  onAbort?: () => void;
  timer?: NodeJS.Timeout;
  /** Why cancel() was asked, once it was. */
  stop?: 'abort' | 'timeout';
  reason?: unknown;
}

/** setTimeout's limit (2^31 - 1 ms); a longer timeout is waited in steps. */
const MAX_TIMER = 0x7fff_ffff;
const RESUME_RETRY_MS = 10;

/**
 * Whether an abort reason asks for a handler installed with SA_RESTART
 * (api.ts: `controller.abort({ restart: true })`).
 */
/** The options of a blocking call (validate.ts checks signal, timeout and ref). */
export function blockingOptions(opts: unknown): CallOptions {
  return callOptions(opts);
}

/** The options of a *Here call: no timer can fire while its thread sleeps, so `timeout` is refused. */
export function hereOptions(opts: unknown): CallOptions {
  const options = callOptions(opts);
  if (options.timeout !== undefined) throw new TypeError('options.timeout cannot be kept by a call that sleeps on the calling thread');
  return options;
}

export function isRestart(reason: unknown): boolean {
  return typeof reason === 'object' && reason !== null && (reason as { restart?: unknown }).restart === true;
}

/**
 * api.ts: a signal already aborted fails a call that would sleep with EINTR
 * (unless it restarts: a restartable call then sleeps as Linux restarts it);
 * a 0 ms timeout fails it with EAGAIN. Undefined: the call may sleep.
 */
export function wouldSleepError(options: CallOptions, syscall: string, restartable: boolean): IpcError | undefined {
  const signal = options.signal;
  if (signal?.aborted && !(restartable && isRestart(signal.reason))) {
    return new IpcError(ERRNO.EINTR, syscall, { cause: signal.reason });
  }
  if (options.timeout === 0) return new IpcError(ERRNO.EAGAIN, syscall);
  return undefined;
}

/** The IpcError for a raw `{ errno, syscall }`; anything else passes through. */
function rawError(error: unknown): unknown {
  return isRawErrno(error) ? new IpcError(error.errno, error.syscall) : error;
}

export class BlockingCalls {
  private readonly pending = new Map<number, Pending>();
  /** Pending calls that hold the process; the addon keeps the loop alive while > 0. */
  private held = 0;

  constructor(private readonly raw: RawAddon) {
    raw.setup(this.settle);
    process.on('beforeExit', this.onBeforeExit);
    process.on('exit', this.onExit);
  }

  /**
   * Starts a call with `start` (which answers the addon's handle) and
   * resolves with its outcome; rejects with the IpcError of `syscall`.
   * `restartable`: an abort whose reason asks for restart sends the call one
   * SA_RESTART signal (it goes on, or returns a partial count) instead of
   * cancelling it.
   */
  run(syscall: string, start: () => number, opts: CallOptions, restartable = false): Promise<Outcome> {
    let handle: number;
    try {
      handle = start();
    } catch (error) {
      return Promise.reject(rawError(error));
    }
    return new Promise<Outcome>((resolve, reject) => {
      const call: Pending = { syscall, resolve, reject, ref: opts.ref !== false, restartable };
      this.pending.set(handle, call);
      if (call.ref && this.held++ === 0) this.raw.keepAlive(true);
      const { signal, timeout } = opts;
      if (signal !== undefined) this.listen(handle, call, signal);
      if (timeout !== undefined) this.arm(handle, call, Date.now() + timeout, timeout);
    });
  }

  private listen(handle: number, call: Pending, signal: AbortSignal): void {
    call.signal = signal;
    call.onAbort = () => this.stop(handle, 'abort', signal.reason);
    if (signal.aborted) queueMicrotask(call.onAbort);
    else signal.addEventListener('abort', call.onAbort, { once: true });
  }

  private arm(handle: number, call: Pending, deadline: number, wait: number): void {
    call.timer = setTimeout(() => {
      const left = deadline - Date.now();
      if (left > 0) this.arm(handle, call, deadline, left);
      else this.stop(handle, 'timeout', undefined);
    }, Math.min(wait, MAX_TIMER));
    if (!call.ref) call.timer.unref();
  }

  private stop(handle: number, why: 'abort' | 'timeout', reason: unknown): void {
    const call = this.pending.get(handle);
    if (call === undefined || call.stop !== undefined) return;
    if (why === 'abort' && call.restartable && isRestart(reason)) {
      this.raw.cancel(handle, true);
      // the restarted call listens to the signal the reason carries (api.ts), if any
      const next = (reason as { signal?: unknown }).signal;
      if (next instanceof AbortSignal) this.listen(handle, call, next);
      else call.onAbort = undefined;
      return;
    }
    call.stop = why;
    call.reason = reason;
    this.raw.cancel(handle);
  }

  /** The addon's settle(): runs on the JavaScript thread, once per call. */
  private readonly settle = (handle: number, result: number, mtype?: MType, data?: Uint8Array): void => {
    const call = this.pending.get(handle);
    if (call === undefined) return;
    this.pending.delete(handle);
    if (call.ref && --this.held === 0) this.raw.keepAlive(false);
    if (call.onAbort !== undefined) call.signal!.removeEventListener('abort', call.onAbort);
    if (call.timer !== undefined) clearTimeout(call.timer);
    if (result >= 0) {
      if (mtype !== undefined) call.resolve({ result, mtype, data: data! });
      else call.resolve(data === undefined ? { result } : { result, data });
    } else if (result === -ERRNO.EINTR && call.stop === 'timeout') {
      // api.ts: a `timeout` that passes fails the call with EAGAIN, as semtimedop does.
      call.reject(new IpcError(ERRNO.EAGAIN, call.syscall));
    } else if (result === -ERRNO.EINTR && call.stop === 'abort') {
      call.reject(new IpcError(ERRNO.EINTR, call.syscall, { cause: call.reason }));
    } else {
      call.reject(new IpcError(-result, call.syscall));
    }
  };

  private readonly onBeforeExit = (): void => {
    // The loop ran dry, so every pending call is an unref'd one.
    if (this.pending.size === 0) return;
    const parked = this.raw.quiesce();
    this.raw.drain();
    if (parked > 0) setImmediate(this.resume).unref();
  };

  private readonly resume = (): void => {
    // Threads may be short for a moment (EAGAIN): the held calls wait, and new ones join them.
    if (this.raw.resume() < 0) setTimeout(this.resume, RESUME_RETRY_MS).unref();
  };

  private readonly onExit = (): void => {
    if (this.pending.size !== 0) this.raw.quiesce();
  };
}
