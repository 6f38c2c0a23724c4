/**
 * Time for the emulator: the wall clock its timestamps come from and the
 * timers its timeouts run on. A simulator passes a virtual clock; by
 * default both are real.
 *
 * Timestamps. The core reads the current second from a memory cell the host
 * writes before each call (reading Date.now() costs about 40 ns here, close
 * to a whole send). With a caller's clock the host asks it at every call, so
 * virtual time is exact. With the real clock it copies a second that a
 * ticker thread keeps current: the thread sleeps until each second boundary
 * and stores the new second into shared memory, which the host reads for
 * about a nanosecond. That is how Linux's ktime_get_real_seconds() works
 * too (a variable the timer tick advances), and it stays right through long
 * synchronous stretches that a main-thread timer would miss. Where no
 * worker thread can be made (a browser without cross-origin isolation), the
 * host reads Date.now() at every call instead.
 */

/** A clock in milliseconds since the epoch, with timers on the same time line. */
export interface EmulatorClock {
  /** Wall-clock milliseconds since the epoch. */
  now(): number;
  /**
   * Calls `fn` once, `ms` milliseconds of this clock from now, and answers a
   * handle for clearTimer. Default: setTimeout. A virtual clock must give
   * both timer functions, or its timeouts would run on real time.
   */
  setTimer?(ms: number, fn: () => void): unknown;
  clearTimer?(handle: unknown): void;
}

/** The clock as the kernel uses it. */
export interface KernelClock {
  /** The current wall-clock second. */
  second(): number;
  /**
   * The ticker's shared cells, [second, running], where there is a ticker:
   * while running is 1 the kernel reads the second there itself (a plain
   * load, no call).
   */
  readonly tick: Int32Array | undefined;
  setTimer(ms: number, fn: () => void): unknown;
  clearTimer(handle: unknown): void;
}

const realTimers = {
  setTimer: (ms: number, fn: () => void): unknown => setTimeout(fn, ms),
  clearTimer: (handle: unknown): void => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

/** The kernel's view of a caller's clock (every call asks it), or of the real clock (the ticker). */
export async function kernelClock(clock: EmulatorClock | undefined): Promise<KernelClock> {
  if (clock !== undefined) {
    if (typeof clock.now !== 'function') throw new TypeError('clock.now must be a function');
    const custom = clock.setTimer !== undefined || clock.clearTimer !== undefined;
    if (custom && (typeof clock.setTimer !== 'function' || typeof clock.clearTimer !== 'function')) {
      throw new TypeError('clock.setTimer and clock.clearTimer must be given together, as functions');
    }
    return {
      second: () => Math.floor(clock.now() / 1000),
      tick: undefined,
      setTimer: custom ? (ms, fn) => clock.setTimer!(ms, fn) : realTimers.setTimer,
      clearTimer: custom ? (handle) => clock.clearTimer!(handle) : realTimers.clearTimer,
    };
  }
  const tick = await wallSecondTicker();
  return { second: () => Math.floor(Date.now() / 1000), tick, ...realTimers };
}

let ticker: Promise<Int32Array | undefined> | undefined;

/** The process-wide ticker's cells (one thread for every kernel), or undefined where there can be none. */
function wallSecondTicker(): Promise<Int32Array | undefined> {
  ticker ??= startTicker().catch(() => undefined);
  return ticker;
}

// The thread: store the second, sleep until the next boundary, repeat.
// cell[0]: the second (modulo 2^32; read back unsigned, good until 2106);
// cell[1]: 1 while the loop runs; cell[2]: never notified, only waited on.
const TICKER_SOURCE = `
const { workerData } = require('node:worker_threads');
const cell = new Int32Array(workerData);
for (;;) {
  const now = Date.now();
  Atomics.store(cell, 0, Math.floor(now / 1000));
  Atomics.store(cell, 1, 1);
  Atomics.wait(cell, 2, 0, 1000 - (now % 1000));
}
`;

async function startTicker(): Promise<Int32Array> {
  if (typeof SharedArrayBuffer !== 'function' || typeof process === 'undefined' || !process.versions?.node) {
    throw new Error('no worker threads here');
  }
  const { Worker } = await import('node:worker_threads');
  const cell = new Int32Array(new SharedArrayBuffer(12));
  const worker = new Worker(TICKER_SOURCE, { eval: true, workerData: cell.buffer });
  worker.unref();
  // should the thread ever stop, readers fall back to Date.now()
  const stopped = (): void => { Atomics.store(cell, 1, 0); };
  worker.on('error', stopped);
  worker.on('exit', stopped);
  return cell;
}
