/**
 * The raw addon (build/Release/ipcemu.node, sources in native/): what each
 * function takes and answers. Only host/native calls it; everything here
 * trusts the host to have validated arguments (host/validate.ts), though the
 * addon checks types again and throws TypeError/RangeError rather than
 * crash.
 *
 * Conventions: a number result >= 0 is the system call's result; < 0 is the
 * negated errno. A thrown plain object `{ errno, syscall }` is a failure
 * that is not the call's own answer (no thread could be started, say).
 * Sync functions add IPC_NOWAIT themselves: they never block.
 */

import type { MType } from '../api.js';

/** The failure a raw function throws when the result number cannot say it. */
export interface RawErrno {
  errno: number;
  syscall: string;
}

/**
 * How a blocking call ends: `result` >= 0 (msgsnd: 0; msgrcv: the length,
 * with `mtype` and `data`; read and recv: the count, with `data` and no
 * mtype), or -errno (-EINTR once cancelled).
 */
export type Settle = (handle: number, result: number, mtype?: MType, data?: Uint8Array) => void;

export interface PoolStats {
  /** Worker threads alive. */
  threads: number;
  /** Of which waiting for work. */
  idle: number;
  /** Blocking calls started and not yet settled. */
  pending: number;
  /** Of which held out of the kernel by quiesce(). */
  parked: number;
  /** The realtime signal that interrupts a worker's system call. */
  signal: number;
}

/** Indices of msgctl's Float64Array(16) for IPC_STAT, MSG_STAT and MSG_STAT_ANY. */
export const STAT = {
  key: 0, uid: 1, gid: 2, cuid: 3, cgid: 4, mode: 5, stime: 6, rtime: 7, ctime: 8,
  cbytes: 9, qnum: 10, qbytes: 11, lspid: 12, lrpid: 13,
} as const;
/** Indices for IPC_INFO and MSG_INFO. */
export const INFO = { msgpool: 0, msgmap: 1, msgmax: 2, msgmnb: 3, msgmni: 4, msgssz: 5, msgtql: 6, msgseg: 7 } as const;
/** Indices IPC_SET reads. */
export const SET = { uid: 0, gid: 1, mode: 2, qbytes: 3 } as const;
export const CTL_SLOTS = 16;

export interface RawAddon {
  /** Registers the function blocking calls settle through; answers the cancel signal's number. */
  setup(settle: Settle): number;
  /** Whether pending calls keep the event loop alive (the thread-safe function is ref'd); off at load. */
  keepAlive(on: boolean): void;

  /**
   * Numbers shared with the addon (its memory), slots as {@link IO} says:
   * the *Io calls read their scalar arguments here, and every sync receive
   * leaves its mtype here (NaN beyond 2^53: then lastMtype() has it). A store
   * or load here costs next to nothing; each argument or result that crosses
   * as a value costs a call into the engine, and a result that is not a
   * small integer a heap number.
   */
  readonly io: Float64Array;
  msgget(key: number, msgflg: number): number;
  msgsnd(msqid: number, mtype: MType, data: Uint8Array, msgflg: number): number;
  /** msgsnd(io msqid, io type, data, io flags): the hot path's form, for an mtype that is a number. */
  msgsndIo(data: Uint8Array): number;
  /** The length written into buf (the mtype is in io), or -errno. */
  msgrcvInto(msqid: number, buf: Uint8Array, msgtyp: MType, msgflg: number): number;
  /** msgrcvInto(io msqid, buf, io type, io flags): the hot path's form, for a msgtyp that is a number. */
  msgrcvIntoIo(buf: Uint8Array): number;
  /** A fresh copy of the text (the mtype is in io), or -errno. */
  msgrcv(msqid: number, msgsz: number, msgtyp: MType, msgflg: number): Uint8Array | number;
  /** The mtype of the last sync receive, a bigint beyond 2^53. */
  lastMtype(): MType;
  /** The syscall's result or -errno; `buf` (length >= CTL_SLOTS) per STAT / INFO / SET. */
  msgctl(msqid: number, cmd: number, buf: Float64Array): number;

  /** Starts a msgsnd on a worker thread (the text is copied now); answers its handle. */
  msgsndStart(msqid: number, mtype: MType, data: Uint8Array, msgflg: number): number;
  /** Starts a msgrcv on a worker thread; answers its handle. */
  msgrcvStart(msqid: number, msgsz: number, msgtyp: MType, msgflg: number): number;

  /**
   * msgsnd that sleeps on the calling thread while the queue is full (unless
   * IPC_NOWAIT): this thread's event loop stops meanwhile. 0 or -errno.
   */
  msgsndHere(msqid: number, mtype: MType, data: Uint8Array, msgflg: number): number;
  /**
   * msgrcv that sleeps on the calling thread until a message matches (unless
   * IPC_NOWAIT). A fresh copy of the text (the mtype is in io), or -errno.
   */
  msgrcvHere(msqid: number, msgsz: number, msgtyp: MType, msgflg: number): Uint8Array | number;
  /**
   * Interrupts the *Here call thread `tid` of this process sleeps in, as a
   * signal whose handler runs would: it returns -EINTR (or what it had already
   * done). With `restart` and a restartable call (pipe/socket I/O, FIFO
   * open), one signal whose handler has SA_RESTART is delivered instead: the
   * kernel restarts the call or returns its partial count. Answers whether
   * that thread has such a call.
   */
  interruptThread(tid: number, restart?: boolean): boolean;
  /** The calling thread's id (gettid): what interruptThread names. */
  threadId(): number;

  /**
   * Asks a pending call to stop; it still settles, with -EINTR or with what it
   * did. With `restart` and a restartable call, sends it one SA_RESTART
   * signal instead (it goes on sleeping, or returns a partial count).
   */
  cancel(handle: number, restart?: boolean): boolean;
  /** Takes every pending call out of the kernel and holds new ones; answers how many are held. */
  quiesce(): number;
  /** Puts held calls back: 0, or -errno when no thread could be started. */
  resume(): number;
  /** Settles the finished calls now. */
  drain(): void;
  stats(): PoolStats;
}

/**
 * The slots of `io` (native/addon.h kIo*). In, for the *Io calls: msqid,
 * type (the mtype sent or the msgtyp asked for, a safe integer) and flags.
 * Out, after any sync receive: mtype.
 */
export const IO = { msqid: 0, type: 1, flags: 2, mtype: 3 } as const;

/** The mtype the last sync receive left: from io, or lastMtype() beyond 2^53. */
export function receivedMtype(raw: RawAddon): MType {
  const mtype = raw.io[IO.mtype]!;
  return mtype === mtype ? mtype : raw.lastMtype();
}

export function isRawErrno(error: unknown): error is RawErrno {
  return typeof error === 'object' && error !== null && !(error instanceof Error) &&
    typeof (error as RawErrno).errno === 'number' && typeof (error as RawErrno).syscall === 'string';
}
