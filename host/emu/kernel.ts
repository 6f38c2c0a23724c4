/**
 * One kernel model instance as the host drives it: every call into the wasm
 * goes through here, so the same rules hold for all of them.
 *
 * - Before a call that may stamp a time, the current second goes into the
 *   time cell (clock.ts).
 * - After every call, the typed views are renewed if memory grew (a grown
 *   memory detaches the old ArrayBuffer: a view of length 0), and the
 *   completions the call posted are drained and their promises settled
 *   there and then, so each is settled within microtasks of the call that
 *   caused it.
 * - A trap (or a failed assertion in a debug build) poisons the kernel:
 *   that call and every later one throw "ipcemu: the emulated kernel
 *   trapped ... (bug)", and calls asleep are rejected with it. The process
 *   lives on.
 *
 * Sleeping calls are Sleepers keyed by the core's token. Each ends exactly
 * once: completed by the core (drain), cancelled by an abort (EINTR) or a
 * timeout (EAGAIN), or abandoned by its process's exit (never settled). An
 * abort or a timeout asks the core's interrupt(), which says what became of
 * the call (gone, completed with the bytes it had moved, or restarted under
 * SA_RESTART and still asleep), so no call is both completed and cancelled.
 */

import type { CallOptions, Datagram, DatagramFrom, Message, MsgInfo, MsqidDs, MType, Received, SemidDs, SemInfo, Stat } from '../api.js';
import { SETALL } from '../constants.js';
import { ERRNO, IpcError } from '../errors.js';
import { CELL, CELL64, COMP_STRIDE, INTR, NEED_COPY, NEED_STAGE, STAT_TYPE, type KernelExports } from './abi.js';
import type { KernelClock } from './clock.js';
import { joinLong, readMsginfo, readMsqid, readSemid, readSeminfo } from './marshal.js';
import type { DirectoryProbe } from './paths.js';

/** Socket names cross as UTF-8, as sun_path holds a path's bytes. */
const NAMES = new TextDecoder();

/**
 * TypedArray.prototype.set, called through a constant: once a method like
 * send() is inlined into its caller, V8 (Node 20) loads `view.set` through a
 * generic LoadIC call; a constant target is called directly (~70 fewer
 * instructions a copy).
 */
const copyInto: (this: Uint8Array, source: ArrayLike<number>, offset?: number) => void = Uint8Array.prototype.set;

/** Lengths up to which views of the staging buffer are kept. */
const VIEW_CACHE = 4096;
/** The longest delay one timer takes (setTimeout's limit); longer timeouts are armed in steps. */
const MAX_TIMER = 0x7fff_ffff;

/**
 * What a sleeping call settles with, from its completion: undefined
 * (msgsnd, semop), a Message (msgrcv), a fresh copy of the completion's
 * bytes (read), the result (write: bytes written; open: the fd), the result
 * and 0 when its timeout passes (poll), a Datagram: `a` bytes and the result
 * as its length (recv).
 */
export const Settles = { Nothing: 0, Message: 1, Bytes: 2, Number: 3, Poll: 4, Datagram: 5, PollSet: 6, DatagramFrom: 7 } as const;
export type Settles = (typeof Settles)[keyof typeof Settles];

/** Whether an abort's reason asks for SA_RESTART (FORMAT.md "interrupt"; the contract's `{ restart: true }`). */
function restarts(reason: unknown): boolean {
  return typeof reason === 'object' && reason !== null && (reason as { restart?: unknown }).restart === true;
}

interface Sleeper {
  readonly token: number;
  readonly pid: number;
  readonly syscall: string;
  readonly settles: Settles;
  /** PollSet: how many descriptors (the length of its answer). */
  readonly count: number;
  /** Poll, PollSet: the timer is poll's own timeout, whose passing is the answer "nothing" (not EAGAIN). */
  readonly pollTimeout: boolean;
  readonly resolve: (value: never) => void;
  readonly reject: (error: unknown) => void;
  timer: unknown;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

export class KernelCore {
  private u8: Uint8Array;
  private i16: Int16Array;
  private u16: Uint16Array;
  private i32: Int32Array;
  private u32: Uint32Array;
  private f64: Float64Array;
  /** The completion count cell alone (after() reads it after every call). */
  private compCount: Int32Array;
  /** Cell indices, in the units of each view. */
  private readonly cCount: number;
  private readonly cComp: number;
  private readonly cToken: number;
  private readonly cStage: number;
  private readonly cStageCap: number;
  private readonly cLo: number;
  private readonly cHi: number;
  private readonly cInfo: number;
  private readonly cAux: number;
  private readonly cAux2: number;
  private readonly cCommit: number;
  private readonly cNseg: number;
  private readonly cSegs: number;
  private readonly cNow: number;
  private readonly cStat: number;
  /** The staging buffer (text crosses there), as the cells last said. */
  private stagePtr = 0;
  private stageCap = 0;
  /** Views of the staging buffer's first n bytes, by n (small n only): made once, reused until memory or the buffer moves. */
  private views: (Uint8Array | undefined)[] = new Array<Uint8Array | undefined>(VIEW_CACHE + 1).fill(undefined);
  private readonly tick: Int32Array | undefined;
  /**
   * The ticker's two cells [second, running] read as one f64 (a denormal,
   * never NaN), so that stamp() tests both with one compare; NaN where there
   * is no ticker.
   */
  private readonly tickPair: Float64Array;
  /** tickPair when the time cell was last written from it; NaN (never equal) otherwise. */
  private lastTickPair = Number.NaN;
  private lastSecond = Number.NaN;
  private readonly sleepers = new Map<number, Sleeper>();
  private fault: { detail: string; cause: unknown } | undefined;

  /** Where FIFO paths' directories are looked up (paths.ts). */
  directories: DirectoryProbe = () => ({ kind: 'dir', mode: 0o777 });

  constructor(private readonly x: KernelExports, private readonly clock: KernelClock) {
    const base = x.cells() >>> 0;
    this.cCount = (base >>> 2) + CELL.COMP_COUNT;
    this.cComp = (base >>> 2) + CELL.COMP_PTR;
    this.cToken = (base >>> 2) + CELL.TOKEN;
    this.cStage = (base >>> 2) + CELL.STAGE;
    this.cStageCap = (base >>> 2) + CELL.STAGE_CAP;
    this.cLo = (base >>> 2) + CELL.MTYPE_LO;
    this.cHi = (base >>> 2) + CELL.MTYPE_HI;
    this.cInfo = (base >>> 2) + CELL.INFO;
    this.cAux = (base >>> 2) + CELL.AUX;
    this.cAux2 = (base >>> 2) + CELL.AUX2;
    this.cCommit = (base >>> 2) + CELL.COMMIT;
    this.cNseg = (base >>> 2) + CELL.NSEG;
    this.cSegs = (base >>> 2) + CELL.SEGS;
    this.cNow = (base >>> 3) + CELL64.NOW;
    this.cStat = (base >>> 3) + CELL64.STAT;
    const buffer = x.memory.buffer;
    this.u8 = new Uint8Array(buffer);
    this.i16 = new Int16Array(buffer);
    this.u16 = new Uint16Array(buffer);
    this.i32 = new Int32Array(buffer);
    this.u32 = new Uint32Array(buffer);
    this.f64 = new Float64Array(buffer);
    this.compCount = new Int32Array(buffer, this.cCount << 2, 1);
    this.tick = clock.tick;
    this.tickPair = this.tick === undefined ? new Float64Array([Number.NaN]) : new Float64Array(this.tick.buffer, this.tick.byteOffset, 1);
    this.readStage();
  }

  // --- the rules around every call ----------------------------------------

  // guard(), stamp() and after() run around every call, so each is kept a few
  // bytecodes long, its rare work apart: V8 inlines guard() and after() into
  // any caller whatever its budget. enter() is guard() and stamp() in one
  // test, for the message-queue calls, whose callers have little budget left.

  /** Throws if the kernel trapped before. */
  private guard(): void {
    if (this.fault !== undefined) this.throwFault();
  }

  private throwFault(): never {
    throw new Error(`ipcemu: the emulated kernel trapped earlier (bug): ${this.fault!.detail}`, { cause: this.fault!.cause });
  }

  /** Unless the ticker runs and its second is the one last written, restamp() writes the current second. */
  private stamp(): void {
    if (this.tickPair[0] !== this.lastTickPair) this.restamp();
  }

  /** guard() then stamp(): a fault leaves lastTickPair NaN, which no pair equals. */
  private enter(): void {
    if (this.tickPair[0] !== this.lastTickPair) this.reenter();
  }

  private reenter(): void {
    this.guard();
    this.restamp();
  }

  private restamp(): void {
    const t = this.tick;
    // the pair first: should a cell change while the others are read, the next stamp() comes back here
    const pair = this.tickPair[0]!;
    let second: number;
    if (t !== undefined && t[1] === 1 && this.fault === undefined) {
      this.lastTickPair = pair;
      second = t[0]! >>> 0;
    } else {
      this.lastTickPair = Number.NaN;
      second = this.clock.second();
    }
    if (second !== this.lastSecond) {
      this.lastSecond = second;
      this.f64[this.cNow] = second;
    }
  }

  private refresh(): void {
    const buffer = this.x.memory.buffer;
    this.u8 = new Uint8Array(buffer);
    this.i16 = new Int16Array(buffer);
    this.u16 = new Uint16Array(buffer);
    this.i32 = new Int32Array(buffer);
    this.u32 = new Uint32Array(buffer);
    this.f64 = new Float64Array(buffer);
    this.compCount = new Int32Array(buffer, this.cCount << 2, 1);
    this.views.fill(undefined);
  }

  /** Rereads where the staging buffer is (after a call that may move it). */
  private readStage(): void {
    const ptr = this.u32[this.cStage]!;
    if (ptr !== this.stagePtr) {
      this.stagePtr = ptr;
      this.views.fill(undefined);
    }
    this.stageCap = this.u32[this.cStageCap]!;
  }

  /** The staging buffer's first n bytes. */
  private staged(n: number): Uint8Array {
    return this.views[n] ?? this.newView(n); // undefined past VIEW_CACHE too
  }

  private newView(n: number): Uint8Array {
    const view = this.u8.subarray(this.stagePtr, this.stagePtr + n);
    if (n <= VIEW_CACHE) this.views[n] = view;
    return view;
  }

  /**
   * After every call: one load in the usual case. A grown memory detaches the
   * views, and a detached view reads undefined, so that too takes the slow way.
   */
  private after(): void {
    if (this.compCount[0] !== 0) this.afterSlow();
  }

  private afterSlow(): void {
    if (this.i32.length === 0) this.refresh();
    if (this.i32[this.cCount] !== 0) this.drain();
  }

  /** Poisons the kernel (once) and answers the Error the failing call throws. */
  private trapped(error: unknown): Error {
    if (this.fault !== undefined) {
      return new Error(`ipcemu: the emulated kernel trapped earlier (bug): ${this.fault.detail}`, { cause: this.fault.cause });
    }
    const detail = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    this.fault = { detail, cause: error };
    this.lastTickPair = Number.NaN; // enter() fails from now on
    const failure = new Error(`ipcemu: the emulated kernel trapped (bug): ${detail}`, { cause: error });
    const asleep = [...this.sleepers.values()];
    this.sleepers.clear();
    for (const s of asleep) {
      this.release(s);
      s.reject(failure);
    }
    return failure;
  }

  // --- completions and sleepers -------------------------------------------

  private drain(): void {
    const i32 = this.i32;
    const count = i32[this.cCount]!;
    i32[this.cCount] = 0;
    let e = this.u32[this.cComp]! >>> 2;
    for (let i = 0; i < count; i++, e += COMP_STRIDE) {
      const token = i32[e]!;
      const result = i32[e + 1]!;
      const s = this.sleepers.get(token);
      if (s === undefined) throw new Error(`the core completed token ${token}, which no call is waiting on`);
      this.sleepers.delete(token);
      this.release(s);
      if (result < 0) {
        s.reject(new IpcError(-result, s.syscall));
        continue;
      }
      switch (s.settles) {
        case Settles.Message: {
          const ptr = this.u32[e + 4]!;
          const message: Message = { mtype: joinLong(i32[e + 2]!, i32[e + 3]!), data: this.u8.slice(ptr, ptr + result) };
          s.resolve(message as never);
          break;
        }
        case Settles.Bytes: {
          const ptr = this.u32[e + 4]!;
          s.resolve(this.u8.slice(ptr, ptr + result) as never);
          break;
        }
        case Settles.Datagram: {
          const ptr = this.u32[e + 4]!;
          const datagram: Datagram = { data: this.u8.slice(ptr, ptr + i32[e + 2]!), length: result };
          s.resolve(datagram as never);
          break;
        }
        case Settles.DatagramFrom: {
          const ptr = this.u32[e + 4]!;
          const copied = i32[e + 2]!;
          const from = NAMES.decode(this.u8.subarray(ptr + copied, ptr + copied + i32[e + 3]!));
          const datagram: DatagramFrom = { data: this.u8.slice(ptr, ptr + copied), length: result, from };
          s.resolve(datagram as never);
          break;
        }
        case Settles.PollSet: {
          const at = this.u32[e + 4]! >>> 2;
          s.resolve(Array.from(i32.subarray(at, at + s.count)) as never);
          break;
        }
        case Settles.Number:
        case Settles.Poll:
          s.resolve(result as never);
          break;
        default:
          s.resolve(undefined as never);
      }
    }
  }

  private release(s: Sleeper): void {
    if (s.timer !== undefined) {
      this.clock.clearTimer(s.timer);
      s.timer = undefined;
    }
    if (s.onAbort !== undefined) {
      s.signal!.removeEventListener('abort', s.onAbort);
      s.onAbort = undefined;
    }
  }

  /**
   * The promise of a call the core answered PENDING (its token is in the
   * cells until the next call). An abort interrupts it with EINTR (cause:
   * the signal's reason), a timeout with EAGAIN; an already aborted signal
   * or a timeout ≤ 0 does so at once, the call having had its chance.
   */
  sleep<T>(pid: number, syscall: string, settles: Settles, opts: CallOptions, count = 0, pollTimeout = false): Promise<T> {
    const token = this.i32[this.cToken]!;
    return new Promise<T>((resolve, reject) => {
      const s: Sleeper = {
        token, pid, syscall, settles, count, pollTimeout, resolve: resolve as (value: never) => void, reject,
        timer: undefined, signal: undefined, onAbort: undefined,
      };
      this.sleepers.set(token, s);
      const { signal, timeout } = opts;
      if (signal !== undefined) {
        this.listen(s, signal);
        if (this.sleepers.get(token) !== s) return;
      }
      if (timeout !== undefined) {
        if (timeout <= 0) {
          this.interrupt(s, ERRNO.EAGAIN, undefined);
          return;
        }
        this.arm(s, timeout);
      }
    });
  }

  /**
   * An abort: a signal whose handler runs. The core decides (interrupt()):
   * the call fails with EINTR (cause: the reason), completes with what it
   * had done (its completion settles it), or, restarted under SA_RESTART,
   * sleeps on.
   */
  private signal(s: Sleeper, reason: unknown): void {
    if (this.sleepers.get(s.token) !== s || this.fault !== undefined) return;
    let answer: number;
    try {
      answer = this.x.interrupt(s.token, restarts(reason) ? 1 : 0);
      this.after();
      if (answer === INTR.NONE) throw new Error(`the core has no sleeping call for token ${s.token}, which the host still waits on`);
    } catch (error) {
      this.trapped(error);
      return;
    }
    if (answer === INTR.CANCELLED) {
      this.sleepers.delete(s.token);
      this.release(s);
      s.reject(new IpcError(ERRNO.EINTR, s.syscall, reason === undefined ? undefined : { cause: reason }));
    } else if (answer === INTR.SLEEPING) {
      // the signal has fired; the restarted call listens to the reason's fresh `signal`, if it carries one
      if (s.onAbort !== undefined) s.signal!.removeEventListener('abort', s.onAbort);
      s.onAbort = undefined;
      s.signal = undefined;
      const next = (reason as { signal?: unknown }).signal;
      if (next instanceof AbortSignal) this.listen(s, next);
    }
  }

  /** Interrupts the sleeping call when `signal` aborts (at once if it already has). */
  private listen(s: Sleeper, signal: AbortSignal): void {
    if (signal.aborted) {
      this.signal(s, signal.reason);
      return;
    }
    s.signal = signal;
    s.onAbort = () => this.signal(s, signal.reason);
    signal.addEventListener('abort', s.onAbort, { once: true });
  }

  /** The sleeper's timeout: one timer, or a chain of them past what one timer can wait. */
  private arm(s: Sleeper, ms: number): void {
    const step = Math.min(ms, MAX_TIMER);
    s.timer = this.clock.setTimer(step, () => {
      s.timer = undefined;
      if (ms > step) this.arm(s, ms - step);
      else this.interrupt(s, ERRNO.EAGAIN, undefined);
    });
  }

  /** Ends a sleeping call with `errno` (its timeout) if the core still has it asleep and it has moved nothing. */
  private interrupt(s: Sleeper, errno: number, cause: unknown): void {
    if (this.sleepers.get(s.token) !== s || this.fault !== undefined) return;
    let answer: number;
    try {
      // as a signal without SA_RESTART: a call that has moved bytes completes with their count
      answer = this.x.interrupt(s.token, 0);
      this.after();
      if (answer === INTR.NONE) throw new Error(`the core has no sleeping call for token ${s.token}, which the host still waits on`);
    } catch (error) {
      this.trapped(error);
      return;
    }
    if (answer !== INTR.CANCELLED) return; // its completion settled it
    this.sleepers.delete(s.token);
    this.release(s);
    // poll's timeout is its answer 0, not an error
    if (s.pollTimeout && errno === ERRNO.EAGAIN) {
      s.resolve((s.settles === Settles.PollSet ? new Array<number>(s.count).fill(0) : 0) as never);
    } else {
      s.reject(new IpcError(errno, s.syscall, cause === undefined ? undefined : { cause }));
    }
  }

  // --- processes and limits -----------------------------------------------

  spawn(uid: number, gid: number, groups: readonly number[], caps: bigint): number {
    this.guard();
    let pid: number;
    try {
      const n = groups.length;
      if (n * 4 > this.stageCap) {
        const r = this.x.stage_reserve(n * 4);
        this.after();
        this.readStage();
        if (r < 0) return r;
      }
      const at = this.stagePtr >>> 2;
      for (let i = 0; i < n; i++) this.u32[at + i] = groups[i]!;
      pid = this.x.proc_spawn(uid, gid, Number(caps & 0xffffffffn), Number(caps >> 32n), n);
      this.after();
    } catch (error) {
      throw this.trapped(error);
    }
    return pid;
  }

  fork(pid: number): number {
    this.guard();
    try {
      const child = this.x.proc_fork(pid);
      this.after();
      return child;
    } catch (error) {
      throw this.trapped(error);
    }
  }

  /** The SIGPIPEs Linux would have sent the process, or -ESRCH. */
  sigpipes(pid: number): number {
    this.guard();
    try {
      return this.x.proc_sigpipes(pid);
    } catch (error) {
      throw this.trapped(error);
    }
  }

  /** exit_group: the core abandons the process's sleeping calls; their promises are dropped unsettled. */
  exit(pid: number): number {
    this.guard();
    let r: number;
    try {
      this.stamp(); // exit_sem stamps sem_otime
      r = this.x.proc_exit(pid);
      this.after();
    } catch (error) {
      throw this.trapped(error);
    }
    for (const s of [...this.sleepers.values()]) {
      if (s.pid !== pid) continue;
      this.sleepers.delete(s.token);
      this.release(s);
    }
    return r;
  }

  setLimits(msgmax: number, msgmnb: number, msgmni: number): number {
    this.guard();
    try {
      return this.x.set_limits(msgmax, msgmnb, msgmni);
    } catch (error) {
      throw this.trapped(error);
    }
  }

  // --- message queues -----------------------------------------------------

  msgget(pid: number, key: number, flags: number): number {
    this.guard();
    try {
      this.stamp();
      const r = this.x.msgget(pid, key, flags);
      this.after();
      return r;
    } catch (error) {
      throw this.trapped(error);
    }
  }

  /** msgsnd: 0, -errno, or PENDING. */
  send(pid: number, msqid: number, lo: number, hi: number, data: Uint8Array, flags: number): number {
    try {
      this.enter();
      const r = data.length <= this.stageCap
        ? (copyInto.call(this.u8, data, this.stagePtr), this.x.msgsnd(pid, msqid, data.length, lo, hi, flags))
        : this.sendLarge(pid, msqid, lo, hi, data, flags);
      this.after();
      return r;
    } catch (error) {
      throw this.trapped(error);
    }
  }

  /** A text longer than the staging buffer: the core checks the arguments first, then the buffer grows. */
  private sendLarge(pid: number, msqid: number, lo: number, hi: number, data: Uint8Array, flags: number): number {
    const len = data.length > 0x7fffffff ? -1 : data.length;
    const r = this.x.msgsnd(pid, msqid, len, lo, hi, flags);
    if (r !== NEED_STAGE) return r;
    const reserved = this.x.stage_reserve(len);
    if (this.i32.length === 0) this.refresh();
    this.readStage();
    if (reserved < 0) return reserved;
    this.u8.set(data, this.stagePtr);
    return this.x.msgsnd(pid, msqid, len, lo, hi, flags);
  }

  /** msgrcv: the bytes received (then read the message with message() or into()), -errno, or PENDING. */
  receive(pid: number, msqid: number, msgsz: number, lo: number, hi: number, flags: number): number {
    try {
      this.enter();
      const r = this.x.msgrcv(pid, msqid, msgsz, lo, hi, flags);
      this.after();
      // the core grows the staging buffer for a text longer than it, and only then
      if (r > this.stageCap) this.readStage();
      return r;
    } catch (error) {
      throw this.trapped(error);
    }
  }

  /** The message receive() just answered, as a fresh copy (the Uint8Array constructor copies faster than slice()). */
  message(length: number): Message {
    return { mtype: this.mtype(), data: new Uint8Array(this.staged(length)) };
  }

  /** Copies the message receive() just answered into `buf`. */
  into(buf: Uint8Array, length: number): Received {
    copyInto.call(buf, this.staged(length));
    return { mtype: this.mtype(), length };
  }

  /** The type receive() just answered: a small integer, the usual case, stays one (no heap number). */
  private mtype(): MType {
    const hi = this.i32[this.cHi]!;
    const lo = this.i32[this.cLo]!;
    return hi === 0 && lo >= 0 ? lo : joinLong(lo, hi);
  }

  msgctl(pid: number, msqid: number, cmd: number, mask: number, uid: number, gid: number, mode: number, qbytes: number): number {
    this.guard();
    try {
      this.stamp();
      const r = this.x.msgctl(pid, msqid, cmd, mask, uid, gid, mode, qbytes);
      this.after();
      return r;
    } catch (error) {
      throw this.trapped(error);
    }
  }

  /** The msqid_ds msgctl just reported. */
  msqid(): MsqidDs {
    return readMsqid(this.f64, this.cStat);
  }

  /** The msginfo msgctl just reported. */
  msginfo(): MsgInfo {
    return readMsginfo(this.i32, this.cInfo);
  }

  setSemLimits(semmsl: number, semmns: number, semopm: number, semmni: number): number {
    this.guard();
    try {
      return this.x.set_sem_limits(semmsl, semmns, semopm, semmni);
    } catch (error) {
      throw this.trapped(error);
    }
  }

  // --- semaphore sets -----------------------------------------------------

  semget(pid: number, key: number, nsems: number, flags: number): number {
    this.guard();
    try {
      this.stamp();
      const r = this.x.semget(pid, key, nsems, flags);
      this.after();
      return r;
    } catch (error) {
      throw this.trapped(error);
    }
  }

  /** semop of one op (int32 fields; the core stores them as C would in struct sembuf): 0, -errno or PENDING. */
  semop1(pid: number, semid: number, num: number, op: number, flg: number): number {
    this.guard();
    try {
      this.stamp();
      const r = this.x.semop1(pid, semid, num, op, flg);
      this.after();
      return r;
    } catch (error) {
      throw this.trapped(error);
    }
  }

  /**
   * semop of `nsops` struct sembuf packed in `ops` (3 int16 each): 0,
   * -errno or PENDING. Ops beyond the staging buffer are staged only once
   * the core has checked what it checks before reading them.
   */
  semop(pid: number, semid: number, ops: Int16Array, nsops: number, badTimeout: number): number {
    this.guard();
    try {
      this.stamp();
      const bytes = nsops * 6;
      let r: number;
      if (bytes <= this.stageCap) {
        this.i16.set(ops.subarray(0, nsops * 3), this.stagePtr >>> 1);
        r = this.x.semop(pid, semid, nsops, badTimeout);
      } else {
        r = this.x.semop(pid, semid, nsops, badTimeout);
        if (r === NEED_STAGE) r = this.restage(bytes, () => {
          this.i16.set(ops.subarray(0, nsops * 3), this.stagePtr >>> 1);
          return this.x.semop(pid, semid, nsops, badTimeout);
        });
      }
      this.after();
      return r;
    } catch (error) {
      throw this.trapped(error);
    }
  }

  /** Grows the staging buffer to `bytes` and runs `retry` (which stages and calls again), or answers -ENOMEM. */
  private restage(bytes: number, retry: () => number): number {
    if (bytes > 0x7fff_ffff) return -ERRNO.ENOMEM; // more than the core's i32 sizes (and any wasm32 instance) hold
    const reserved = this.x.stage_reserve(bytes);
    if (this.i32.length === 0) this.refresh();
    this.readStage();
    if (reserved < 0) return reserved;
    return retry();
  }

  /** semctl of every command but SETALL: result or -errno (GETALL: nsems, then read values()). */
  semctl(pid: number, semid: number, semnum: number, cmd: number, arg: number, mask: number, uid: number, gid: number, mode: number): number {
    this.guard();
    try {
      this.stamp();
      const r = this.x.semctl(pid, semid, semnum, cmd, arg, mask, uid, gid, mode);
      this.after();
      if (r >= 0 && this.u32[this.cStageCap] !== this.stageCap) this.readStage();
      return r;
    } catch (error) {
      throw this.trapped(error);
    }
  }

  /**
   * semctl SETALL of `values` (each already an unsigned short): 0, -errno,
   * or VALUES_MISMATCH (their count is not nsems: see aux()).
   */
  setall(pid: number, semid: number, semnum: number, values: readonly number[]): number {
    this.guard();
    try {
      this.stamp();
      const n = values.length;
      const call = (): number => {
        const at = this.stagePtr >>> 1;
        for (let i = 0; i < n; i++) this.u16[at + i] = values[i]!;
        return this.x.semctl(pid, semid, semnum, SETALL, n, 0, 0, 0, 0);
      };
      let r: number;
      if (n * 2 <= this.stageCap) {
        r = call();
      } else {
        r = this.x.semctl(pid, semid, semnum, SETALL, n, 0, 0, 0, 0);
        if (r === NEED_STAGE) r = this.restage(n * 2, call);
      }
      this.after();
      return r;
    } catch (error) {
      throw this.trapped(error);
    }
  }

  /** The `n` values GETALL just staged. */
  values(n: number): number[] {
    const at = this.stagePtr >>> 1;
    const out = new Array<number>(n);
    for (let i = 0; i < n; i++) out[i] = this.u16[at + i]!;
    return out;
  }

  /** The extra answer of the last call (SETALL's nsems after VALUES_MISMATCH). */
  aux(): number {
    return this.i32[this.cAux]!;
  }

  /** The semid_ds semctl just reported. */
  semid(): SemidDs {
    return readSemid(this.f64, this.cStat);
  }

  /** The seminfo semctl just reported. */
  seminfo(): SemInfo {
    return readSeminfo(this.i32, this.cInfo);
  }

  // --- descriptors --------------------------------------------------------

  /** The second answer of the last call (pipe2's write end, socketpair's second socket). */
  aux2(): number {
    return this.i32[this.cAux2]!;
  }

  setPipeLimits(maxSize: number, soft: number, hard: number): number {
    this.guard();
    try {
      return this.x.set_pipe_limits(maxSize, soft, hard);
    } catch (error) {
      throw this.trapped(error);
    }
  }

  pipe2(pid: number, flags: number): number {
    return this.plain(() => this.x.pipe2(pid, flags));
  }

  close(pid: number, fd: number): number {
    return this.plain(() => this.x.fd_close(pid, fd));
  }

  fcntl(pid: number, fd: number, cmd: number, arg: number): number {
    return this.plain(() => this.x.fd_fcntl(pid, fd, cmd, arg));
  }

  dup2(pid: number, oldfd: number, newfd: number): number {
    return this.plain(() => this.x.fd_dup2(pid, oldfd, newfd));
  }

  dup3(pid: number, oldfd: number, newfd: number, flags: number): number {
    return this.plain(() => this.x.fd_dup3(pid, oldfd, newfd, flags));
  }

  ioctl(pid: number, fd: number, request: number): number {
    return this.plain(() => this.x.fd_ioctl(pid, fd, request));
  }

  /** read into the staging buffer: bytes (read them with staged()), -errno or PENDING. */
  read(pid: number, fd: number, count: number, nonblock: number): number {
    this.guard();
    try {
      const r = this.x.fd_read(pid, fd, count, nonblock);
      this.after();
      if (r > 0 && this.u32[this.cStage] !== this.stagePtr) this.readStage();
      return r;
    } catch (error) {
      throw this.trapped(error);
    }
  }

  /** A fresh copy of the `n` bytes the last read staged. */
  stagedCopy(n: number): Uint8Array {
    return n === 0 ? new Uint8Array(0) : new Uint8Array(this.staged(n));
  }

  /**
   * A read that never sleeps, straight into `buf` at `at` (count: its room):
   * the core says where the bytes lie and they are copied from there once;
   * then the sleepers the read woke run (commit). Bytes read or -errno.
   */
  readInto(pid: number, fd: number, buf: Uint8Array, count: number): number {
    this.guard();
    try {
      const r = this.x.fd_read_plan(pid, fd, count);
      if (this.i32.length === 0) this.refresh();
      if (r > 0) {
        const u8 = this.u8;
        const i32 = this.i32;
        const n = i32[this.cNseg]!;
        let seg = this.cSegs;
        let at = 0;
        for (let i = 0; i < n; i++, seg += 2) {
          const addr = i32[seg]! >>> 0;
          const len = i32[seg + 1]!;
          copyInto.call(buf, u8.subarray(addr, addr + len), at);
          at += len;
        }
        if (this.u32[this.cStage] !== this.stagePtr) this.readStage();
      }
      if (this.i32[this.cCommit] !== 0) this.x.commit();
      this.after();
      return r;
    } catch (error) {
      throw this.trapped(error);
    }
  }

  /**
   * A write that never sleeps, straight from `data`: the core says where its
   * bytes go (a pipe's pages) and they are copied there once; a socket takes
   * them through the staging buffer. Bytes written or -errno.
   */
  writeSync(pid: number, fd: number, data: Uint8Array): number {
    this.guard();
    try {
      const len = data.length;
      const r = this.x.fd_write_plan(pid, fd, len);
      if (r === NEED_COPY) return this.write(pid, fd, data, 1);
      if (this.i32.length === 0) this.refresh();
      if (r > 0) {
        const u8 = this.u8;
        const i32 = this.i32;
        const n = i32[this.cNseg]!;
        let seg = this.cSegs;
        let at = 0;
        for (let i = 0; i < n; i++, seg += 2) {
          const addr = i32[seg]! >>> 0;
          const l = i32[seg + 1]!;
          copyInto.call(u8, l === len ? data : data.subarray(at, at + l), addr);
          at += l;
        }
      }
      if (this.i32[this.cCommit] !== 0) this.x.commit();
      this.after();
      return r;
    } catch (error) {
      throw this.trapped(error);
    }
  }

  /** write through the staging buffer: bytes, -errno or PENDING (the core keeps what it has not written). */
  write(pid: number, fd: number, data: Uint8Array, nonblock: number): number {
    return this.withStaged(data, (len) => this.x.fd_write(pid, fd, len, nonblock));
  }

  /**
   * Runs `call(len)` with `data` in the staging buffer and answers what it
   * answers. Beyond the buffer, the core is asked first (it answers its
   * errors, or NEED_STAGE), and the buffer is made larger only when needed.
   */
  private withStaged(data: Uint8Array, call: (len: number) => number): number {
    this.guard();
    try {
      const len = data.length;
      let r: number;
      if (len <= this.stageCap) {
        copyInto.call(this.u8, data, this.stagePtr);
        r = call(len);
      } else {
        r = len > 0x7fffffff ? -ERRNO.EINVAL : call(len);
        if (r === NEED_STAGE) r = this.restage(len, () => {
          this.u8.set(data, this.stagePtr);
          return call(len);
        });
      }
      this.after();
      return r;
    } catch (error) {
      throw this.trapped(error);
    }
  }

  poll(pid: number, fd: number, events: number, wait: number): number {
    return this.plain(() => this.x.fd_poll(pid, fd, events, wait));
  }

  /**
   * poll of n descriptors: `triples` holds [fd, events, 0] for each. The
   * number with revents (read them with pollRevents), -errno or PENDING.
   */
  pollSet(pid: number, triples: Int32Array, wait: number): number {
    this.guard();
    try {
      const n = triples.length / 3;
      const call = (): number => {
        this.i32.set(triples, this.stagePtr >>> 2);
        return this.x.fd_poll_set(pid, n, wait);
      };
      let r: number;
      if (triples.length * 4 <= this.stageCap) {
        r = call();
      } else {
        r = this.x.fd_poll_set(pid, n, wait); // its errors first (EINVAL above RLIMIT_NOFILE), or NEED_STAGE
        if (r === NEED_STAGE) r = this.restage(triples.length * 4, call);
      }
      this.after();
      return r;
    } catch (error) {
      throw this.trapped(error);
    }
  }

  /** The revents the last pollSet answered at once, one per descriptor. */
  pollRevents(n: number): number[] {
    const at = this.stagePtr >>> 2;
    const out = new Array<number>(n);
    for (let i = 0; i < n; i++) out[i] = this.i32[at + 3 * i + 2]!;
    return out;
  }

  /** Stages a path's bytes (the core reads them from the staging buffer) and runs `call` with their length. */
  private withPath(path: Uint8Array, call: (len: number) => number): number {
    this.guard();
    try {
      let r: number;
      if (path.length <= this.stageCap) {
        this.u8.set(path, this.stagePtr);
        r = call(path.length);
      } else {
        r = this.restage(path.length, () => {
          this.u8.set(path, this.stagePtr);
          return call(path.length);
        });
      }
      this.after();
      return r;
    } catch (error) {
      throw this.trapped(error);
    }
  }

  // `how` (paths.ts pathHow): 1 trailing slash, 2 parent missing, 4 parent no directory

  mkfifo(pid: number, path: Uint8Array, how: number, mode: number): number {
    return this.withPath(path, (len) => this.x.fifo_make(pid, len, mode, how));
  }

  unlink(pid: number, path: Uint8Array, how: number): number {
    return this.withPath(path, (len) => this.x.fifo_unlink(pid, len, how));
  }

  /** stat of a FIFO or a regular file: the Stat, or -errno. */
  stat(pid: number, path: Uint8Array, how: number): Stat | number {
    const r = this.withPath(path, (len) => this.x.path_stat(pid, len, how));
    if (r < 0) return r;
    return { type: STAT_TYPE[r] ?? 'other', mode: this.i32[this.cAux]! };
  }

  /** open of a FIFO or a regular file: fd, -errno or PENDING. */
  open(pid: number, path: Uint8Array, how: number, flags: number, mode: number): number {
    return this.withPath(path, (len) => this.x.fifo_open(pid, len, flags, how, mode));
  }

  // --- sockets ------------------------------------------------------------

  /** socket(2): fd or -errno. */
  socket(pid: number, domain: number, type: number, protocol: number): number {
    return this.plain(() => this.x.sock_socket(pid, domain, type, protocol));
  }

  /** bind(2) to a canonical path: 0 or -errno. */
  /** bind(2) to a canonical path; `name` is the path as given, which getsockname answers. */
  bind(pid: number, fd: number, path: Uint8Array, how: number, name: Uint8Array): number {
    const both = new Uint8Array(path.length + name.length);
    both.set(path);
    both.set(name, path.length);
    return this.withPath(both, () => this.x.sock_bind(pid, fd, path.length, how, name.length));
  }

  /** getsockname (peer 0) / getpeername (1): the name's bytes (empty: unnamed), or -errno. */
  sockName(pid: number, fd: number, peer: number): Uint8Array | number {
    const r = this.plain(() => this.x.sock_name(pid, fd, peer));
    if (r < 0) return r;
    this.readStage();
    return this.u8.slice(this.stagePtr, this.stagePtr + r);
  }

  sockListen(pid: number, fd: number, backlog: number): number {
    return this.plain(() => this.x.sock_listen(pid, fd, backlog));
  }

  /** connect(2) to a canonical path: 0, -errno or PENDING. */
  connect(pid: number, fd: number, path: Uint8Array, how: number): number {
    return this.withPath(path, (len) => this.x.sock_connect(pid, fd, len, how));
  }

  /** accept4(2): fd, -errno or PENDING. */
  accept(pid: number, fd: number, flags: number): number {
    return this.plain(() => this.x.sock_accept(pid, fd, flags));
  }

  /** A call with nothing staged: the core's answer, with the usual checks before and completions after. */
  private plain(call: () => number): number {
    this.guard();
    try {
      const r = call();
      this.after();
      return r;
    } catch (error) {
      throw this.trapped(error);
    }
  }

  socketpair(pid: number, domain: number, type: number, protocol: number): number {
    return this.plain(() => this.x.socketpair(pid, domain, type, protocol));
  }

  /** send(2) through the staging buffer: bytes, -errno or PENDING. */
  sendTo(pid: number, fd: number, data: Uint8Array, flags: number): number {
    return this.withStaged(data, (len) => this.x.sock_send(pid, fd, len, flags));
  }

  /** sendto(2): the bytes and then the name through the staging buffer; bytes, -errno or PENDING. */
  sendToName(pid: number, fd: number, data: Uint8Array, flags: number, name: Uint8Array, how: number): number {
    const both = new Uint8Array(data.length + name.length);
    both.set(data);
    both.set(name, data.length);
    return this.withStaged(both, () => this.x.sock_sendto(pid, fd, data.length, flags, name.length, how));
  }

  /** recv into the staging buffer: the call's answer (the bytes: received()), -errno or PENDING; `from`: recvfrom. */
  recvFrom(pid: number, fd: number, count: number, flags: number, from = false): number {
    this.guard();
    try {
      const r = from ? this.x.sock_recvfrom(pid, fd, count, flags) : this.x.sock_recv(pid, fd, count, flags);
      this.after();
      if (r >= 0 && this.u32[this.cStage] !== this.stagePtr) this.readStage();
      return r;
    } catch (error) {
      throw this.trapped(error);
    }
  }

  /** What the last recv() answered `r` with: a fresh copy of the bytes copied. */
  received(r: number): Datagram {
    return { data: this.stagedCopy(this.i32[this.cAux]!), length: r };
  }

  /** What the last recvfrom answered `r` with: the bytes, and the sender's name behind them. */
  receivedFrom(r: number): DatagramFrom {
    const copied = this.i32[this.cAux]!;
    const at = this.stagePtr + copied;
    return { data: this.stagedCopy(copied), length: r, from: NAMES.decode(this.u8.subarray(at, at + this.i32[this.cAux2]!)) };
  }

  shutdown(pid: number, fd: number, how: number): number {
    return this.plain(() => this.x.sock_shutdown(pid, fd, how));
  }

  setsockopt(pid: number, fd: number, level: number, optname: number, value: number): number {
    return this.plain(() => this.x.sock_setopt(pid, fd, level, optname, value));
  }

  getsockopt(pid: number, fd: number, level: number, optname: number): number {
    this.guard();
    try {
      return this.x.sock_getopt(pid, fd, level, optname);
    } catch (error) {
      throw this.trapped(error);
    }
  }

  // --- diagnostics --------------------------------------------------------

  /** Bytes the core holds and calls asleep in it: what a test checks to find leaks. */
  usage(): { bytes: number; sleeping: number; pending: number } {
    this.guard();
    try {
      return { bytes: this.x.mem_in_use(), sleeping: this.x.waiters_live(), pending: this.sleepers.size };
    } catch (error) {
      throw this.trapped(error);
    }
  }

  /** Makes a debug build trap (1: through abort, 2: unreachable); a release build ignores it. */
  trap(kind: number): void {
    this.guard();
    try {
      this.x.debug_trap(kind);
    } catch (error) {
      throw this.trapped(error);
    }
  }
}
