/**
 * Pipes, FIFOs and descriptors over the real kernel: argument checks
 * (validate.ts), the addon's raw calls (native/pipe.h), results shaped as
 * api.ts says.
 *
 * Sync forms (readSync, readInto, writeSync) never sleep and never change
 * the description's O_NONBLOCK (native/pipe.h says how, and where a FIFO's
 * answer is not exact). A blocking read, write or poll first tries that way
 * on this thread; only one that would sleep goes to a worker thread (it
 * makes the real blocking call, so the kernel decides). The probe changes no
 * answer: a read returns as soon as one byte is there, and a write is probed
 * only up to PIPE_BUF, where a pipe write is all or nothing. A larger write
 * on a blocking description goes to the worker whole, as one system call
 * (a nonblocking probe could split it across calls, which changes how the
 * pipe's pages fill). A FIFO open that may sleep always goes to a worker.
 *
 * The *Here forms sleep on the calling thread (native/here.h) for the
 * conformance agent's main thread; interruptThread(tid, restart) ends them.
 */

import type { CallOptions, PollFd, Stat } from '../api.js';
import { F_GETFD, F_GETFL, O_NONBLOCK, O_RDWR } from '../constants.js';
import { ERRNO, IpcError, check } from '../errors.js';
import { bytes, flags, int, pollFds, size, unsigned32 } from '../validate.js';
import type { RawAddon } from './addon.js';
import { type BlockingCalls, blockingOptions, hereOptions, isRestart, wouldSleepError } from './wait.js';

/** PIPE_BUF: pipe writes up to this size are atomic. */
export const PIPE_BUF = 4096;
const O_ACCMODE = 3;
const S_IFMT = 0o170000;
const TYPES: Readonly<Record<number, Stat['type']>> = {
  0o010000: 'fifo', 0o140000: 'socket', 0o100000: 'file', 0o040000: 'dir',
};

/** The descriptor functions of the raw addon (native/pipe.cc). Numbers < 0 are -errno. */
export interface RawFd {
  pipe2(flags: number): [number, number] | number;
  mkfifo(path: string, mode: number): number;
  /** open on this thread: only for opens that cannot sleep. */
  open(path: string, flags: number, mode: number): number;
  openStart(path: string, flags: number, mode: number): number;
  openHere(path: string, flags: number, mode: number): number;
  unlink(path: string): number;
  /** `buf` = [st_mode & S_IFMT, st_mode & 0o7777]. */
  stat(path: string, buf: Float64Array): number;
  /** Never sleeps. A negative count reaches read(2) as C would pass it (EFAULT). */
  read(fd: number, count: number): Uint8Array | number;
  readInto(fd: number, buf: Uint8Array): number;
  /** Settles with the count and `data`. */
  readStart(fd: number, count: number): number;
  readHere(fd: number, count: number): Uint8Array | number;
  /** Never sleeps. */
  write(fd: number, data: Uint8Array): number;
  writeStart(fd: number, data: Uint8Array): number;
  writeHere(fd: number, data: Uint8Array): number;
  close(fd: number): number;
  dup(fd: number): number;
  dup3(oldfd: number, newfd: number, flags: number): number;
  /** Commands with an int argument only; any other answers EINVAL. */
  fcntl(fd: number, cmd: number, arg: number): number;
  /** FIONREAD only; any other request answers ENOTTY (EBADF first). */
  ioctl(fd: number, request: number): number;
  /** poll with timeout 0: revents, 0 when none. */
  poll(fd: number, events: number): number;
  pollStart(fd: number, events: number, timeout: number): number;
  pollHere(fd: number, events: number, timeout: number): number;
  /** poll of [fd, events, revents] triples with timeout 0: the count; the revents written into them. */
  pollSet(triples: Int32Array, timeout: number): number;
  /** Settles with the count and `data`: the revents as int32s. */
  pollSetStart(triples: Int32Array, timeout: number): number;
  pollSetHere(triples: Int32Array, timeout: number): number;
}

export function rawFd(raw: RawAddon): RawFd {
  return raw as unknown as RawFd;
}

/** A path: a string (one with a NUL byte is the addon's TypeError). */
export function pathArg(name: string, value: unknown): string {
  if (typeof value !== 'string') throw new TypeError(`${name} must be a string, got ${value === null ? 'null' : typeof value}`);
  return value;
}

/** Runs `body` and turns a throw into a rejected promise (api.ts: async calls never throw). */
function promise<T>(body: () => T | Promise<T>): Promise<T> {
  try {
    return Promise.resolve(body());
  } catch (error) {
    return Promise.reject(error);
  }
}

/** The revents the addon wrote into poll's triples. */
function revents(triples: Int32Array): number[] {
  const out = new Array<number>(triples.length / 3);
  for (let i = 0; i < out.length; i++) out[i] = triples[3 * i + 2]!;
  return out;
}

function rejectIfAborted(options: CallOptions, syscall: string, restartable: boolean): void {
  const early = wouldSleepError(options, syscall, restartable);
  if (early !== undefined) throw early;
}

export class FdCalls {
  private readonly statBuf = new Float64Array(2);

  constructor(private readonly raw: RawFd, private readonly calls: BlockingCalls) {}

  pipe(pipeFlags?: number): [number, number] {
    const got = this.raw.pipe2(flags('flags', pipeFlags));
    if (typeof got === 'number') throw new IpcError(-got, 'pipe2');
    return got;
  }

  mkfifo(path: string, mode?: number): void {
    check(this.raw.mkfifo(pathArg('path', path), mode === undefined ? 0o666 : int('mode', mode)), 'mkfifo');
  }

  unlink(path: string): void {
    check(this.raw.unlink(pathArg('path', path)), 'unlink');
  }

  stat(path: string): Stat {
    check(this.raw.stat(pathArg('path', path), this.statBuf), 'stat');
    return { type: TYPES[this.statBuf[0]! & S_IFMT] ?? 'other', mode: this.statBuf[1]! };
  }

  close(fd: number): void {
    check(this.raw.close(int('fd', fd)), 'close');
  }

  dup(fd: number): number {
    return check(this.raw.dup(int('fd', fd)), 'dup');
  }

  dup2(oldfd: number, newfd: number): number {
    const from = int('oldfd', oldfd);
    const to = int('newfd', newfd);
    // fs/file.c: dup2 onto itself only checks that oldfd is open; otherwise it is dup3 without flags
    if (from === to) {
      check(this.raw.fcntl(from, F_GETFD, 0), 'dup2');
      return to;
    }
    return check(this.raw.dup3(from, to, 0), 'dup2');
  }

  dup3(oldfd: number, newfd: number, flags: number): number {
    return check(this.raw.dup3(int('oldfd', oldfd), int('newfd', newfd), int('flags', flags)), 'dup3');
  }

  fcntl(fd: number, cmd: number, arg?: number): number {
    // The kernel takes an unsigned long and narrows it per command: any C int
    // or unsigned int passes (F_SETPIPE_SZ 2^32 - 1 is the kernel's EINVAL).
    const value = arg === undefined ? 0 : unsigned32('arg', arg) | 0;
    return check(this.raw.fcntl(int('fd', fd), int('cmd', cmd), value), 'fcntl');
  }

  ioctl(fd: number, request: number): number {
    return check(this.raw.ioctl(int('fd', fd), int('request', request)), 'ioctl');
  }

  /** Whether the open file description of `fd` is O_NONBLOCK; throws `syscall`'s error for a bad fd. */
  private nonblocking(fd: number, syscall: string): boolean {
    const fl = this.raw.fcntl(fd, F_GETFL, 0);
    if (fl < 0) throw new IpcError(-fl, syscall);
    return (fl & O_NONBLOCK) !== 0;
  }

  /** An open that cannot sleep: O_NONBLOCK, or O_RDWR (a FIFO opened so never waits). */
  private static cannotSleep(flag: number): boolean {
    return (flag & O_NONBLOCK) !== 0 || (flag & O_ACCMODE) === O_RDWR;
  }

  /**
   * An open whose signal is already aborted (or whose timeout is 0): Linux
   * interrupts only a FIFO open that waits for its partner. Not exact: a
   * FIFO whose partner is already there would not have waited, but
   * cannot be told apart without opening it.
   */
  private openNow(path: string, flag: number, perm: number, options: CallOptions): number | undefined {
    if (wouldSleepError(options, 'open', true) === undefined) return undefined;
    const isFifo = this.raw.stat(path, this.statBuf) === 0 && (this.statBuf[0]! & S_IFMT) === 0o010000;
    if (isFifo) rejectIfAborted(options, 'open', true);
    return check(this.raw.open(path, flag, perm), 'open');
  }

  open(path: string, openFlags: number, mode?: number, opts?: CallOptions): Promise<number> {
    return promise(() => {
      const file = pathArg('path', path);
      const flag = int('flags', openFlags);
      const perm = mode === undefined ? 0 : int('mode', mode);
      const options = blockingOptions(opts);
      if (FdCalls.cannotSleep(flag)) return check(this.raw.open(file, flag, perm), 'open');
      const now = this.openNow(file, flag, perm, options);
      if (now !== undefined) return now;
      return this.calls.run('open', () => this.raw.openStart(file, flag, perm), options, true).then((o) => o.result);
    });
  }

  openHere(path: string, openFlags: number, mode?: number, opts?: CallOptions): number {
    const file = pathArg('path', path);
    const flag = int('flags', openFlags);
    const perm = mode === undefined ? 0 : int('mode', mode);
    const options = hereOptions(opts);
    if (FdCalls.cannotSleep(flag)) return check(this.raw.open(file, flag, perm), 'open');
    return this.openNow(file, flag, perm, options) ?? check(this.raw.openHere(file, flag, perm), 'open');
  }

  readSync(fd: number, count: number): Uint8Array {
    const got = this.raw.read(int('fd', fd), size('count', count));
    if (typeof got === 'number') throw new IpcError(-got, 'read');
    return got;
  }

  readInto(fd: number, buf: Uint8Array): number {
    return check(this.raw.readInto(int('fd', fd), bytes('buf', buf)), 'read');
  }

  /** The probe of a blocking read: data, or undefined when the read would sleep (throws other answers). */
  private readProbe(fd: number, count: number, options: CallOptions): Uint8Array | undefined {
    const got = this.raw.read(fd, count);
    if (typeof got !== 'number') return got;
    if (got !== -ERRNO.EAGAIN || this.nonblocking(fd, 'read')) throw new IpcError(-got, 'read');
    rejectIfAborted(options, 'read', true);
    return undefined;
  }

  read(fd: number, count: number, opts?: CallOptions): Promise<Uint8Array> {
    return promise(() => {
      const id = int('fd', fd);
      const max = size('count', count);
      const options = blockingOptions(opts);
      const now = this.readProbe(id, max, options);
      if (now !== undefined) return now;
      return this.calls.run('read', () => this.raw.readStart(id, max), options, true).then((o) => o.data!);
    });
  }

  readHere(fd: number, count: number, opts?: CallOptions): Uint8Array {
    const id = int('fd', fd);
    const max = size('count', count);
    const options = hereOptions(opts);
    if (options.signal?.aborted && !isRestart(options.signal.reason)) {
      const now = this.readProbe(id, max, options);
      if (now !== undefined) return now;
    }
    const got = this.raw.readHere(id, max);
    if (typeof got === 'number') throw new IpcError(-got, 'read');
    return got;
  }

  writeSync(fd: number, data: Uint8Array): number {
    return check(this.raw.write(int('fd', fd), bytes('data', data)), 'write');
  }

  /**
   * What a blocking write answers without sleeping: the count, or undefined
   * when it must sleep (a worker makes it then). Up to PIPE_BUF a pipe write
   * is all or nothing, so the nonblocking probe is exact; a larger one is
   * probed only on an O_NONBLOCK description, where it is the call itself.
   */
  private writeProbe(fd: number, data: Uint8Array, options: CallOptions): number | undefined {
    if (data.length > PIPE_BUF && !this.nonblocking(fd, 'write')) {
      rejectIfAborted(options, 'write', true);
      return undefined;
    }
    const rc = this.raw.write(fd, data);
    if (rc === data.length) return rc;
    // A stream socket may take part of a small write (a tiny SO_SNDBUF): the
    // blocking call would go on with the rest, which the caller does.
    if (rc >= 0) return rc;
    if (rc !== -ERRNO.EAGAIN || this.nonblocking(fd, 'write')) throw new IpcError(-rc, 'write');
    rejectIfAborted(options, 'write', true);
    return undefined;
  }

  write(fd: number, data: Uint8Array, opts?: CallOptions): Promise<number> {
    return promise(() => {
      const id = int('fd', fd);
      const text = bytes('data', data);
      const options = blockingOptions(opts);
      const done = this.writeProbe(id, text, options);
      if (done === text.length || (done !== undefined && this.nonblocking(id, 'write'))) return done;
      const from = done ?? 0;
      const rest = from === 0 ? text : text.subarray(from);
      const sent = this.calls.run('write', () => this.raw.writeStart(id, rest), options, true).then((o) => from + o.result);
      // Bytes the probe moved are written: an error after them answers their count, as Linux does.
      return from === 0 ? sent : sent.catch((error: unknown) => {
        if (error instanceof IpcError) return from;
        throw error;
      });
    });
  }

  writeHere(fd: number, data: Uint8Array, opts?: CallOptions): number {
    const id = int('fd', fd);
    const text = bytes('data', data);
    const options = hereOptions(opts);
    if (options.signal?.aborted && !isRestart(options.signal.reason)) {
      // A pending handler: a blocking write moves what fits at once and stops
      // (fs/pipe.c: signal_pending before it sleeps), which the nonblocking write does.
      const rc = this.raw.write(id, text);
      if (rc >= 0) return rc;
      if (rc === -ERRNO.EAGAIN && !this.nonblocking(id, 'write')) {
        throw new IpcError(ERRNO.EINTR, 'write', { cause: options.signal.reason });
      }
      throw new IpcError(-rc, 'write');
    }
    return check(this.raw.writeHere(id, text), 'write');
  }

  poll(fd: number, events: number, timeout: number, opts?: CallOptions): Promise<number> {
    return promise(() => {
      const id = int('fd', fd);
      const mask = int('events', events);
      const wait = int('timeout', timeout);
      const options = blockingOptions(opts);
      const now = check(this.raw.poll(id, mask), 'poll');
      if (now !== 0 || wait === 0) return now;
      // fs/select.c: poll is never restarted, SA_RESTART or not.
      rejectIfAborted(options, 'poll', false);
      return this.calls.run('poll', () => this.raw.pollStart(id, mask, wait), options, false).then((o) => o.result);
    });
  }

  pollSet(fds: readonly PollFd[], timeout: number, opts?: CallOptions): Promise<number[]> {
    return promise(() => {
      const triples = pollFds('fds', fds);
      const wait = int('timeout', timeout);
      const options = blockingOptions(opts);
      const now = check(this.raw.pollSet(triples, 0), 'poll');
      if (now !== 0 || wait === 0) return revents(triples);
      rejectIfAborted(options, 'poll', false);
      return this.calls.run('poll', () => this.raw.pollSetStart(triples, wait), options, false).then((o) => {
        const data = o.data!; // the revents as int32s, in an ArrayBuffer of their own
        return Array.from(new Int32Array(data.buffer, data.byteOffset, data.length >>> 2));
      });
    });
  }

  pollSetHere(fds: readonly PollFd[], timeout: number, opts?: CallOptions): number[] {
    const triples = pollFds('fds', fds);
    const wait = int('timeout', timeout);
    const options = hereOptions(opts);
    if (options.signal?.aborted) {
      const now = check(this.raw.pollSet(triples, 0), 'poll');
      if (now !== 0 || wait === 0) return revents(triples);
      throw new IpcError(ERRNO.EINTR, 'poll', { cause: options.signal.reason });
    }
    check(this.raw.pollSetHere(triples, wait), 'poll');
    return revents(triples);
  }

  pollHere(fd: number, events: number, timeout: number, opts?: CallOptions): number {
    const id = int('fd', fd);
    const mask = int('events', events);
    const wait = int('timeout', timeout);
    const options = hereOptions(opts);
    if (options.signal?.aborted) {
      const now = check(this.raw.poll(id, mask), 'poll');
      if (now !== 0 || wait === 0) return now;
      throw new IpcError(ERRNO.EINTR, 'poll', { cause: options.signal.reason });
    }
    return check(this.raw.pollHere(id, mask, wait), 'poll');
  }
}
