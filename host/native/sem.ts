/**
 * SysV semaphore sets over the real kernel: argument checks (validate.ts,
 * shared with the emulator), the addon's raw calls (native/sem.h), and
 * results shaped as api.ts says.
 *
 * Operations: each [sem_num, sem_op, sem_flg] is packed into one reused
 * Int16Array, three shorts per operation, exactly struct sembuf; no object
 * per operation reaches C++. Each field must be a C int and is converted as
 * C converts an int stored into the struct's field: its low 16 bits. So
 * sem_num is taken modulo 65536 (unsigned short: -1 is 65535, which the
 * kernel answers with EFBIG), and sem_op and sem_flg wrap into a short
 * (32768 is -32768, 65535 is -1). A non-integer is a TypeError, an integer
 * beyond a C int a RangeError.
 *
 * semopSync adds IPC_NOWAIT to every operation (a copy: the kernel sees the
 * flag, the caller's array is untouched), so an operation that would sleep
 * fails with EAGAIN and nothing is applied.
 *
 * A blocking semop first tries once that way on this thread: most calls
 * need no sleep, and those settle without a thread hand-off. Only one that
 * met EAGAIN goes to a worker thread, with its own flags. The probe changes
 * no answer: semop is all or nothing, so a failed probe applied nothing,
 * and a successful one is what the call would have done at once. One
 * corner it cannot tell apart: when some operations carry IPC_NOWAIT and
 * others do not, EAGAIN may be the caller's own (the op that stopped had
 * the flag) or the probe's; the worker's call settles which, except when
 * the signal is already aborted, where the answer is EINTR without asking.
 */

import type { CallOptions, SemBuf, SemidDs, SemidSet, SemInfo, Timespec, WithResult } from '../api.js';
import {
  GETALL, GETNCNT, GETPID, GETVAL, GETZCNT, IPC_INFO, IPC_NOWAIT, IPC_RMID, IPC_SET, IPC_STAT, SEM_INFO,
  SEM_STAT, SEM_STAT_ANY, SETALL, SETVAL,
} from '../constants.js';
import { ERRNO, IpcError, check } from '../errors.js';
import { flags, int, mtype as longArg, unsigned32 } from '../validate.js';
import { type BlockingCalls, blockingOptions, hereOptions, wouldSleepError } from './wait.js';

/** A C long given to the addon: a number while it is a safe integer, else a bigint. */
type Long = number | bigint;

/** The semaphore functions of the raw addon (native/sem.cc), beside those of addon.ts's RawAddon. */
export interface RawSem {
  semget(key: number, nsems: number, semflg: number): number;
  /**
   * Never sleeps (IPC_NOWAIT added to every operation of a copy). `sops`
   * holds at least 3 × nsops shorts; with `sec` (not null) it is semtimedop
   * with that raw relative timespec. 0 or -errno.
   */
  semop(semid: number, sops: Int16Array, nsops: number, sec?: Long | null, nsec?: Long): number;
  /** Starts a semop on a worker thread (the operations are copied now); answers its handle. */
  semopStart(semid: number, sops: Int16Array, nsops: number, sec: Long | null, nsec: Long): number;
  /** A semop that sleeps on the calling thread (interruptThread ends it). 0 or -errno. */
  semopHere(semid: number, sops: Int16Array, nsops: number, sec: Long | null, nsec: Long): number;
  /** The syscall's result or -errno; `buf` (length >= SEM_CTL_SLOTS) per SEM_STAT_SLOTS / SEM_INFO_SLOTS / SEM_SET_SLOTS. */
  semctl(semid: number, semnum: number, cmd: number, buf: Float64Array): number;
  /** GETALL: the set's values, or -errno. */
  semgetall(semid: number): Uint16Array | number;
  /** SETALL: 0 or -errno; a RangeError unless `values` holds exactly nsems values (null: C's NULL, for the kernel's EFAULT). */
  semsetall(semid: number, values: Uint16Array | null): number;
}

/** Indices of semctl's Float64Array for IPC_STAT, SEM_STAT and SEM_STAT_ANY. */
export const SEM_STAT_SLOTS = { key: 0, uid: 1, gid: 2, cuid: 3, cgid: 4, mode: 5, otime: 6, ctime: 7, nsems: 8 } as const;
/** Indices for IPC_INFO and SEM_INFO. */
export const SEM_INFO_SLOTS = {
  semmap: 0, semmni: 1, semmns: 2, semmnu: 3, semmsl: 4, semopm: 5, semume: 6, semusz: 7, semvmx: 8, semaem: 9,
} as const;
/** Indices IPC_SET reads; SETVAL reads its value from slot 0. */
export const SEM_SET_SLOTS = { uid: 0, gid: 1, mode: 2, value: 0 } as const;
export const SEM_CTL_SLOTS = 16;

/**
 * ipc/util.c: ipc_parse_version() strips this bit from every semctl command
 * before the kernel looks at it (glibc sets it itself): GETALL | IPC_64 is
 * GETALL, and answers as GETALL does.
 */
const IPC_64 = 0x100;

const RAW_SEM_FUNCTIONS = ['semget', 'semop', 'semopStart', 'semopHere', 'semctl', 'semgetall', 'semsetall'] as const;

/**
 * The addon's semaphore functions, or an Error that says the addon was
 * built from sources older than them (it still loads, and message queues
 * work; `npm run build:native` brings it up to date).
 */
export function rawSem(raw: object): RawSem {
  const missing = RAW_SEM_FUNCTIONS.filter((name) => typeof (raw as Record<string, unknown>)[name] !== 'function');
  if (missing.length !== 0) {
    throw new Error(`ipcemu: the native addon lacks ${missing.join(', ')}: it was built from older sources; rebuild it with \`npm run build:native\``);
  }
  return raw as RawSem;
}

const resolved = Promise.resolve();
const NO_TIMEOUT: readonly [null, 0] = [null, 0];

function longArgument(name: string, value: unknown): Long {
  return typeof value === 'number' && Number.isSafeInteger(value) ? value : longArg(name, value);
}

/**
 * semtimedop's timeout as the raw timespec the kernel gets: null (or
 * undefined) for none;
 * a number of milliseconds from now, split into whole seconds and
 * nanoseconds (a negative one gives a negative sec, which the kernel
 * answers with EINVAL); a Timespec's sec and nsec as they are (C longs).
 */
export function timespecOf(timeout: unknown): readonly [Long | null, Long] {
  if (timeout === null || timeout === undefined) return NO_TIMEOUT;
  if (typeof timeout === 'number') {
    if (Number.isNaN(timeout)) throw new TypeError('timeout must be a number of milliseconds, a { sec, nsec } timespec or null, got NaN');
    if (!Number.isFinite(timeout)) throw new RangeError(`timeout must be a finite number of milliseconds, got ${timeout}`);
    let sec = Math.floor(timeout / 1000);
    let nsec = Math.round((timeout - sec * 1000) * 1e6);
    if (nsec >= 1e9) {
      sec += 1;
      nsec -= 1e9;
    }
    if (!Number.isSafeInteger(sec)) throw new RangeError(`timeout must fit a timespec, got ${timeout} ms`);
    return [sec, nsec];
  }
  if (typeof timeout === 'object') {
    const { sec, nsec } = timeout as Timespec;
    return [longArgument('timeout.sec', sec), longArgument('timeout.nsec', nsec)];
  }
  throw new TypeError(`timeout must be a number of milliseconds, a { sec, nsec } timespec or null, got ${typeof timeout}`);
}

/** One sembuf field: a C int, whose low 16 bits the Int16Array keeps as C's conversion would. */
function field(value: unknown, op: number, index: number): number {
  if (typeof value === 'number' && (value | 0) === value) return value;
  return int(`sops[${op}][${index}]`, value);
}

export class SemCalls {
  private readonly ctl = new Float64Array(SEM_CTL_SLOTS);
  /** The packed operations of the current call; more than 64 bytes from the start, so V8 keeps it off-heap. */
  private sops = new Int16Array(3 * 32);
  /** How many of the packed operations carry IPC_NOWAIT. */
  private nowaitOps = 0;

  constructor(private readonly raw: RawSem, private readonly calls: BlockingCalls) {}

  semget(key: number, nsems: number, semflg?: number): number {
    return check(this.raw.semget(int('key', key), int('nsems', nsems), flags('semflg', semflg)), 'semget');
  }

  semopSync(semid: number, sops: readonly SemBuf[]): void {
    const id = int('semid', semid);
    // Packing first: it may replace this.sops with a larger array.
    const n = this.pack(sops);
    const rc = this.raw.semop(id, this.sops, n);
    if (rc < 0) throw new IpcError(-rc, 'semop');
  }

  semop(semid: number, sops: readonly SemBuf[], opts?: CallOptions): Promise<void> {
    let id: number, n: number, options: CallOptions;
    try {
      id = int('semid', semid);
      n = this.pack(sops);
      options = blockingOptions(opts);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.blocking('semop', id, n, NO_TIMEOUT, options);
  }

  semtimedop(semid: number, sops: readonly SemBuf[], timeout: number | Timespec | null, opts?: CallOptions): Promise<void> {
    let id: number, n: number, ts: readonly [Long | null, Long], options: CallOptions;
    try {
      id = int('semid', semid);
      n = this.pack(sops);
      ts = timespecOf(timeout);
      options = blockingOptions(opts);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.blocking('semtimedop', id, n, ts, options);
  }

  /**
   * semop that sleeps on the calling thread until it can proceed; another
   * thread ends the sleep with interruptThread (EINTR). `opts.signal` counts
   * only if already aborted (no JavaScript runs on this thread while it
   * sleeps); `opts.timeout` cannot be kept here, so it is refused.
   */
  semopHere(semid: number, sops: readonly SemBuf[], opts?: CallOptions): void {
    const id = int('semid', semid);
    const n = this.pack(sops);
    this.here('semop', id, n, NO_TIMEOUT, hereOptions(opts));
  }

  /** semtimedop that sleeps on the calling thread; as semopHere. Its own timeout is the kernel's, and is kept. */
  semtimedopHere(semid: number, sops: readonly SemBuf[], timeout: number | Timespec | null, opts?: CallOptions): void {
    const id = int('semid', semid);
    const n = this.pack(sops);
    this.here('semtimedop', id, n, timespecOf(timeout), hereOptions(opts));
  }

  semctl(semid: number, semnum: number, cmd: number, arg?: number | readonly number[] | SemidSet):
    number | number[] | SemidDs | WithResult<SemidDs> | WithResult<SemInfo> {
    const id = int('semid', semid);
    const num = int('semnum', semnum);
    const command = int('cmd', cmd);
    const known = command & ~IPC_64;
    switch (known) {
      case GETVAL:
      case GETPID:
      case GETNCNT:
      case GETZCNT:
      case IPC_RMID:
        return this.ctlCall(id, num, known);
      case SETVAL:
        // An int (union semun's val); the kernel answers ERANGE outside [0, semvmx], before the id.
        this.ctl[SEM_SET_SLOTS.value] = int('value', arg);
        return this.ctlCall(id, num, known);
      case GETALL: {
        const values = this.raw.semgetall(id);
        if (typeof values === 'number') throw new IpcError(-values, 'semctl');
        return Array.from(values);
      }
      case SETALL:
        return check(this.raw.semsetall(id, shorts(arg)), 'semctl');
      case IPC_STAT:
        this.ctlCall(id, num, known);
        return this.stat();
      case SEM_STAT:
      case SEM_STAT_ANY: {
        const result = this.ctlCall(id, num, known);
        return { ...this.stat(), result };
      }
      case IPC_INFO:
      case SEM_INFO: {
        const result = this.ctlCall(id, num, known);
        return { ...this.info(), result };
      }
      case IPC_SET:
        return this.set(id, num, arg);
      default:
        // Linux answers unknown commands (EINVAL); the addon passes them as they are.
        return this.ctlCall(id, num, command);
    }
  }

  /** Packs `sops` into this.sops (see the file's comment); answers how many operations. */
  private pack(sops: unknown): number {
    if (!Array.isArray(sops)) throw new TypeError('sops must be an array of [sem_num, sem_op, sem_flg?] operations');
    const n = sops.length;
    if (3 * n > this.sops.length) this.sops = new Int16Array(3 * 2 ** Math.ceil(Math.log2(n)));
    const packed = this.sops;
    let nowait = 0;
    for (let i = 0; i < n; i++) {
      const op: unknown = sops[i];
      if (!Array.isArray(op) || op.length < 2 || op.length > 3) {
        throw new TypeError(`sops[${i}] must be [sem_num, sem_op, sem_flg?]`);
      }
      const flg = op[2] === undefined ? 0 : field(op[2], i, 2);
      packed[3 * i] = field(op[0], i, 0);
      packed[3 * i + 1] = field(op[1], i, 1);
      packed[3 * i + 2] = flg;
      if ((flg & IPC_NOWAIT) !== 0) nowait++;
    }
    this.nowaitOps = nowait;
    return n;
  }

  private blocking(syscall: string, id: number, n: number, ts: readonly [Long | null, Long], options: CallOptions): Promise<void> {
    const [sec, nsec] = ts;
    const rc = this.raw.semop(id, this.sops, n, sec, nsec);
    if (rc === 0) return resolved;
    // Every operation has IPC_NOWAIT of its own: the probe was the call itself.
    if (rc !== -ERRNO.EAGAIN || this.nowaitOps === n) return Promise.reject(new IpcError(-rc, syscall));
    const early = wouldSleepError(options, syscall, false);
    if (early !== undefined) return Promise.reject(early);
    // run() calls start at once, while this.sops still holds these operations.
    return this.calls.run(syscall, () => this.raw.semopStart(id, this.sops, n, sec, nsec), options).then(nothing);
  }

  private here(syscall: string, id: number, n: number, ts: readonly [Long | null, Long], options: CallOptions): void {
    const [sec, nsec] = ts;
    if (options.signal?.aborted) {
      const rc = this.raw.semop(id, this.sops, n, sec, nsec);
      if (rc === -ERRNO.EAGAIN && this.nowaitOps !== n) throw new IpcError(ERRNO.EINTR, syscall, { cause: options.signal.reason });
      if (rc < 0) throw new IpcError(-rc, syscall);
      return;
    }
    const rc = this.raw.semopHere(id, this.sops, n, sec, nsec);
    if (rc < 0) throw new IpcError(-rc, syscall);
  }

  private ctlCall(id: number, num: number, command: number): number {
    return check(this.raw.semctl(id, num, command, this.ctl), 'semctl');
  }

  private stat(): SemidDs {
    const c = this.ctl;
    const s = SEM_STAT_SLOTS;
    return {
      sem_perm: { key: c[s.key]!, uid: c[s.uid]!, gid: c[s.gid]!, cuid: c[s.cuid]!, cgid: c[s.cgid]!, mode: c[s.mode]! },
      sem_otime: c[s.otime]!,
      sem_ctime: c[s.ctime]!,
      sem_nsems: c[s.nsems]!,
    };
  }

  private info(): SemInfo {
    const c = this.ctl;
    const s = SEM_INFO_SLOTS;
    return {
      semmap: c[s.semmap]!, semmni: c[s.semmni]!, semmns: c[s.semmns]!, semmnu: c[s.semmnu]!, semmsl: c[s.semmsl]!,
      semopm: c[s.semopm]!, semume: c[s.semume]!, semusz: c[s.semusz]!, semvmx: c[s.semvmx]!, semaem: c[s.semaem]!,
    };
  }

  /**
   * IPC_SET takes a whole semid_ds, so fields left out are read first, as a
   * C program does (IPC_STAT, then change, then IPC_SET): not atomic with
   * other processes' changes in between. An owner without read permission
   * cannot IPC_STAT, so SEM_STAT_ANY (no read check; Linux ≥ 4.17; given the
   * id, it keeps its index bits) reads for it.
   */
  private set(id: number, num: number, buf: unknown): 0 {
    if (typeof buf !== 'object' || buf === null || Array.isArray(buf)) {
      throw new TypeError(`semctl IPC_SET needs a buf object, got ${buf === null ? 'null' : typeof buf}`);
    }
    const given = buf as SemidSet;
    // uid_t, gid_t and mode_t are unsigned: (uid_t)-1 reaches the kernel, which answers EINVAL.
    let uid = given.uid === undefined ? undefined : unsigned32('buf.uid', given.uid);
    let gid = given.gid === undefined ? undefined : unsigned32('buf.gid', given.gid);
    let mode = given.mode === undefined ? undefined : unsigned32('buf.mode', given.mode);
    const c = this.ctl;
    if (uid === undefined || gid === undefined || mode === undefined) {
      this.readForSet(id);
      uid ??= c[SEM_STAT_SLOTS.uid]!;
      gid ??= c[SEM_STAT_SLOTS.gid]!;
      mode ??= c[SEM_STAT_SLOTS.mode]!;
    }
    c[SEM_SET_SLOTS.uid] = uid;
    c[SEM_SET_SLOTS.gid] = gid;
    c[SEM_SET_SLOTS.mode] = mode;
    this.ctlCall(id, num, IPC_SET);
    return 0;
  }

  private readForSet(id: number): void {
    const rc = this.raw.semctl(id, 0, IPC_STAT, this.ctl);
    if (rc >= 0) return;
    if (rc === -ERRNO.EACCES && this.raw.semctl(id, 0, SEM_STAT_ANY, this.ctl) === id) return;
    throw new IpcError(-rc, 'semctl');
  }
}

/**
 * SETALL's values: C ints, each stored as the unsigned short the kernel
 * reads (modulo 65536). None (undefined or null) is C's NULL: the kernel
 * answers EFAULT, after the id and permission checks.
 */
function shorts(values: unknown): Uint16Array | null {
  if (values === undefined || values === null) return null;
  if (!Array.isArray(values)) throw new TypeError('semctl SETALL needs an array of values');
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v: unknown = values[i];
    out[i] = typeof v === 'number' && (v | 0) === v ? v : int(`values[${i}]`, v);
  }
  return out;
}

function nothing(): void {}
