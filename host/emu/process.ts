/**
 * A simulated process: the Process contract (host/api.ts) over a kernel
 * model instance. Arguments are checked here with host/validate.ts (a
 * TypeError or RangeError only where Linux has no errno); everything the
 * kernel answers with an errno is left to the core, ESRCH for a process that
 * has exited included (pids are never reused within a kernel).
 *
 * The hot calls test the common case inline first (an int32 id or type, a
 * non-empty Uint8Array) and call validate.ts only otherwise: same answers,
 * fewer calls.
 */

import type {
  CallOptions, Datagram, DatagramFrom, Message, MsgInfo, MsqidDs, MsqidSet, MType, PollFd, Received, SemBuf, SemidDs, SemidSet, SemInfo, SimProcess,
  Stat, Timespec, WithResult,
} from '../api.js';
import {
  F_DUPFD, GETALL, GETNCNT, GETPID, GETVAL, GETZCNT, IPC_INFO, IPC_NOWAIT, IPC_RMID, IPC_SET, IPC_STAT, MSG_INFO, MSG_STAT,
  MSG_STAT_ANY, SEM_INFO, SEM_STAT, SEM_STAT_ANY, SETALL, SETVAL, SOL_SOCKET,
} from '../constants.js';
import { ERRNO, IpcError } from '../errors.js';
import { bytes, callOptions, flags, int, pollFds, size, unsigned32 } from '../validate.js';
import { PENDING, SET_GID, SET_MODE, SET_QBYTES, SET_UID, VALUES_MISMATCH } from './abi.js';
import { Settles, type KernelCore } from './kernel.js';
import { clampSize, long, splitLong } from './marshal.js';
import { ABSTRACT_NAME, AUTOBIND, canonicalPath, NAME_GIVEN, pathHow, socketName } from './paths.js';
import { packed, packSops, readSemTimeout, semWait, setallValues } from './sem-args.js';

/** Socket names cross as UTF-8, as sun_path holds a path's bytes. */
const NAMES = new TextDecoder();
const NO_BYTES = new Uint8Array(0);

const RESOLVED: Promise<void> = Promise.resolve();
// Only an empty view can be detached: a non-empty Uint8Array skips validate.bytes(), whose
// `.byteLength` costs ~12 ns on Node 20 where `.length` is free. Same answers.
const NO_OPTIONS: CallOptions = {};
/** MAX_RW_COUNT: the most one read or write moves (INT_MAX rounded down to a page). */
const MAX_RW_COUNT = 0x7ffff000;

/** A read's count for the core: negative stays negative (EFAULT), beyond MAX_RW_COUNT is clamped as rw_verify_area does. */
function rwCount(count: number): number {
  return count < 0 ? -1 : count > MAX_RW_COUNT ? MAX_RW_COUNT : count;
}

export class EmuProcess implements SimProcess {
  readonly backend = 'emu' as const;

  constructor(
    private readonly core: KernelCore,
    readonly pid: number,
    readonly uid: number,
    readonly gid: number,
  ) {}

  msgget(key: number, msgflg?: number): number {
    const k = int('key', key);
    const f = flags('msgflg', msgflg);
    const r = this.core.msgget(this.pid, k, f);
    if (r < 0) throw new IpcError(-r, 'msgget');
    return r;
  }

  msgsnd(msqid: number, mtype: MType, data: Uint8Array, msgflg?: number, opts?: CallOptions): Promise<void> {
    const f = msgflg === undefined ? 0 : msgflg;
    let r: number;
    try {
      // as msgsndSync, and without options
      r = typeof msqid === 'number' && (msqid | 0) === msqid && typeof mtype === 'number' && (mtype | 0) === mtype
        && data instanceof Uint8Array && data.length !== 0 && typeof f === 'number' && (f | 0) === f && opts === undefined
        ? this.core.send(this.pid, msqid, mtype, mtype >> 31, data, f)
        : this.sendChecked(msqid, mtype, data, msgflg, 0, opts);
    } catch (error) {
      return Promise.reject(error);
    }
    return r === 0 ? RESOLVED : this.unsent(r, opts);
  }

  /** msgsnd answered other than 0: asleep (opts checked by sendChecked), or an errno. */
  private unsent(r: number, opts: CallOptions | undefined): Promise<void> {
    if (r === PENDING) return this.core.sleep<void>(this.pid, 'msgsnd', Settles.Nothing, opts === undefined ? NO_OPTIONS : opts);
    return Promise.reject(new IpcError(-r, 'msgsnd'));
  }

  msgsndSync(msqid: number, mtype: MType, data: Uint8Array, msgflg?: number): void {
    const f = msgflg === undefined ? 0 : msgflg;
    // the usual call (int32 id, type and flags, a non-empty Uint8Array) in few bytecodes, so that V8 inlines it whole
    const r = typeof msqid === 'number' && (msqid | 0) === msqid && typeof mtype === 'number' && (mtype | 0) === mtype
      && data instanceof Uint8Array && data.length !== 0 && typeof f === 'number' && (f | 0) === f
      ? this.core.send(this.pid, msqid, mtype, mtype >> 31, data, f | IPC_NOWAIT)
      : this.sendChecked(msqid, mtype, data, msgflg, IPC_NOWAIT, undefined);
    if (r !== 0) throw new IpcError(-r, 'msgsnd');
  }

  /** msgsnd's arguments through validate.ts (TypeError / RangeError where Linux has no errno), then the call. */
  private sendChecked(msqid: unknown, mtype: unknown, data: unknown, msgflg: unknown, add: number, opts: unknown): number {
    const id = int('msqid', msqid);
    splitLong('mtype', mtype);
    const lo = long.lo;
    const hi = long.hi;
    const text = bytes('msgp', data);
    const f = flags('msgflg', msgflg) | add;
    if (opts !== undefined) callOptions(opts);
    return this.core.send(this.pid, id, lo, hi, text, f);
  }

  msgrcv(msqid: number, msgsz: number, msgtyp: MType, msgflg?: number, opts?: CallOptions): Promise<Message> {
    const f = msgflg === undefined ? 0 : msgflg;
    let r: number;
    try {
      // the usual call inline (int32 id, size, type and flags, no options); a negative size goes as it is (EINVAL)
      r = typeof msqid === 'number' && (msqid | 0) === msqid && typeof msgsz === 'number' && (msgsz | 0) === msgsz
        && typeof msgtyp === 'number' && (msgtyp | 0) === msgtyp && typeof f === 'number' && (f | 0) === f && opts === undefined
        ? this.core.receive(this.pid, msqid, msgsz, msgtyp, msgtyp >> 31, f)
        : this.receiveChecked(msqid, msgsz, msgtyp, msgflg, 0, opts);
      if (r >= 0) return Promise.resolve(this.core.message(r));
    } catch (error) {
      return Promise.reject(error);
    }
    return this.unreceived(r, opts);
  }

  /** msgrcv answered no message: asleep (opts checked by receiveChecked), or an errno. */
  private unreceived(r: number, opts: CallOptions | undefined): Promise<Message> {
    if (r === PENDING) return this.core.sleep<Message>(this.pid, 'msgrcv', Settles.Message, opts === undefined ? NO_OPTIONS : opts);
    return Promise.reject(new IpcError(-r, 'msgrcv'));
  }

  /** msgrcv's arguments through validate.ts, then the call. */
  private receiveChecked(msqid: unknown, msgsz: unknown, msgtyp: unknown, msgflg: unknown, add: number, opts: unknown): number {
    const id = int('msqid', msqid);
    const sz = clampSize(size('msgsz', msgsz));
    splitLong('msgtyp', msgtyp);
    const lo = long.lo;
    const hi = long.hi;
    const f = flags('msgflg', msgflg) | add;
    if (opts !== undefined) callOptions(opts);
    return this.core.receive(this.pid, id, sz, lo, hi, f);
  }

  msgrcvSync(msqid: number, msgsz: number, msgtyp: MType, msgflg?: number): Message {
    const f = msgflg === undefined ? 0 : msgflg;
    const r = typeof msqid === 'number' && (msqid | 0) === msqid && typeof msgsz === 'number' && (msgsz | 0) === msgsz
      && typeof msgtyp === 'number' && (msgtyp | 0) === msgtyp && typeof f === 'number' && (f | 0) === f
      ? this.core.receive(this.pid, msqid, msgsz, msgtyp, msgtyp >> 31, f | IPC_NOWAIT)
      : this.receiveChecked(msqid, msgsz, msgtyp, msgflg, IPC_NOWAIT, undefined);
    if (r < 0) throw new IpcError(-r, 'msgrcv');
    return this.core.message(r);
  }

  msgrcvInto(msqid: number, buf: Uint8Array, msgtyp: MType, msgflg?: number): Received {
    const f = msgflg === undefined ? 0 : msgflg;
    // as msgsndSync: the usual call inline; a buffer past INT_MAX bytes goes the checked way (clamped)
    const r = typeof msqid === 'number' && (msqid | 0) === msqid && buf instanceof Uint8Array && buf.length !== 0
      && buf.length <= 0x7fffffff && typeof msgtyp === 'number' && (msgtyp | 0) === msgtyp && typeof f === 'number' && (f | 0) === f
      ? this.core.receive(this.pid, msqid, buf.length, msgtyp, msgtyp >> 31, f | IPC_NOWAIT)
      : this.receiveIntoChecked(msqid, buf, msgtyp, msgflg);
    if (r < 0) throw new IpcError(-r, 'msgrcv');
    return this.core.into(buf, r);
  }

  private receiveIntoChecked(msqid: unknown, buf: unknown, msgtyp: unknown, msgflg: unknown): number {
    const id = int('msqid', msqid);
    const into = bytes('buf', buf);
    splitLong('msgtyp', msgtyp);
    const lo = long.lo;
    const hi = long.hi;
    const f = flags('msgflg', msgflg) | IPC_NOWAIT;
    return this.core.receive(this.pid, id, clampSize(into.length), lo, hi, f);
  }

  msgctl(msqid: number, cmd: typeof IPC_STAT): MsqidDs;
  msgctl(msqid: number, cmd: typeof MSG_STAT | typeof MSG_STAT_ANY): WithResult<MsqidDs>;
  msgctl(msqid: number, cmd: typeof IPC_INFO | typeof MSG_INFO): WithResult<MsgInfo>;
  msgctl(msqid: number, cmd: typeof IPC_SET, buf: MsqidSet): 0;
  msgctl(msqid: number, cmd: typeof IPC_RMID): 0;
  msgctl(msqid: number, cmd: number, buf?: MsqidSet): number | MsqidDs | WithResult<MsqidDs> | WithResult<MsgInfo>;
  msgctl(msqid: number, cmd: number, buf?: MsqidSet): number | MsqidDs | WithResult<MsqidDs> | WithResult<MsgInfo> {
    const id = typeof msqid === 'number' && (msqid | 0) === msqid ? msqid : int('msqid', msqid);
    const c = int('cmd', cmd);
    let mask = 0;
    let uid = 0;
    let gid = 0;
    let mode = 0;
    let qbytes = 0;
    // ksys_msgctl checks the signs of id and cmd, then copies IPC_SET's buffer in (EFAULT), then looks the id up
    if (c === IPC_SET && id >= 0) {
      if (buf === undefined || buf === null) throw new IpcError(ERRNO.EFAULT, 'msgctl');
      if (typeof buf !== 'object') throw new TypeError(`buf must be an object, got ${typeof buf}`);
      if (buf.uid !== undefined) { mask |= SET_UID; uid = unsigned32('uid', buf.uid); }
      if (buf.gid !== undefined) { mask |= SET_GID; gid = unsigned32('gid', buf.gid); }
      if (buf.mode !== undefined) { mask |= SET_MODE; mode = unsigned32('mode', buf.mode) | 0; }
      // msqid_ds.msg_qbytes is an unsigned long; msgctl_down takes it as an int
      if (buf.msg_qbytes !== undefined) { mask |= SET_QBYTES; qbytes = size('msg_qbytes', buf.msg_qbytes) | 0; }
    }
    const r = this.core.msgctl(this.pid, id, c, mask, uid, gid, mode, qbytes);
    if (r < 0) throw new IpcError(-r, 'msgctl');
    switch (c) {
      case IPC_STAT:
        return this.core.msqid();
      case MSG_STAT:
      case MSG_STAT_ANY:
        return { result: r, ...this.core.msqid() };
      case IPC_INFO:
      case MSG_INFO:
        return { result: r, ...this.core.msginfo() };
      default:
        return r;
    }
  }

  semget(key: number, nsems: number, semflg?: number): number {
    const k = int('key', key);
    const n = int('nsems', nsems);
    const f = flags('semflg', semflg);
    const r = this.core.semget(this.pid, k, n, f);
    if (r < 0) throw new IpcError(-r, 'semget');
    return r;
  }

  /**
   * semop's core call: one op goes as arguments (the hot path), several are
   * packed as struct sembuf. `nowait` is IPC_NOWAIT added to every op
   * (semopSync); `badTimeout` 1 says semtimedop's timespec is malformed.
   */
  private semcall(semid: number, sops: readonly SemBuf[], nowait: number, badTimeout: number): number {
    const id = typeof semid === 'number' && (semid | 0) === semid ? semid : int('semid', semid);
    if (badTimeout === 0 && Array.isArray(sops) && sops.length === 1) {
      const op = sops[0];
      if (Array.isArray(op) && (op.length === 2 || op.length === 3)) {
        const a = op[0];
        const b = op[1];
        const c = op[2] === undefined ? 0 : op[2];
        if (typeof a === 'number' && (a | 0) === a && typeof b === 'number' && (b | 0) === b && typeof c === 'number' && (c | 0) === c) {
          return this.core.semop1(this.pid, id, a, b, c | nowait);
        }
      }
    }
    const n = packSops(sops, nowait);
    return this.core.semop(this.pid, id, packed(), n, badTimeout);
  }

  semop(semid: number, sops: readonly SemBuf[], opts?: CallOptions): Promise<void> {
    try {
      const o = opts === undefined ? NO_OPTIONS : callOptions(opts);
      const r = this.semcall(semid, sops, 0, 0);
      if (r === 0) return RESOLVED;
      if (r === PENDING) return this.core.sleep<void>(this.pid, 'semop', Settles.Nothing, o);
      return Promise.reject(new IpcError(-r, 'semop'));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  semopSync(semid: number, sops: readonly SemBuf[]): void {
    const r = this.semcall(semid, sops, IPC_NOWAIT, 0);
    if (r !== 0) throw new IpcError(-r, 'semop');
  }

  semtimedop(semid: number, sops: readonly SemBuf[], timeout: number | Timespec | null, opts?: CallOptions): Promise<void> {
    try {
      const o = opts === undefined ? NO_OPTIONS : callOptions(opts);
      readSemTimeout(timeout);
      const r = this.semcall(semid, sops, 0, semWait.bad);
      if (r === 0) return RESOLVED;
      if (r === PENDING) {
        const ms = semWait.ms;
        const sleepOpts = ms === undefined || (o.timeout !== undefined && o.timeout <= ms) ? o : { signal: o.signal, timeout: ms };
        return this.core.sleep<void>(this.pid, 'semtimedop', Settles.Nothing, sleepOpts);
      }
      return Promise.reject(new IpcError(-r, 'semtimedop'));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  semctl(semid: number, semnum: number, cmd: typeof GETVAL | typeof GETPID | typeof GETNCNT | typeof GETZCNT): number;
  semctl(semid: number, semnum: number, cmd: typeof SETVAL, value: number): 0;
  semctl(semid: number, semnum: number, cmd: typeof GETALL): number[];
  semctl(semid: number, semnum: number, cmd: typeof SETALL, values: readonly number[]): 0;
  semctl(semid: number, semnum: number, cmd: typeof IPC_STAT): SemidDs;
  semctl(semid: number, semnum: number, cmd: typeof SEM_STAT | typeof SEM_STAT_ANY): WithResult<SemidDs>;
  semctl(semid: number, semnum: number, cmd: typeof IPC_INFO | typeof SEM_INFO): WithResult<SemInfo>;
  semctl(semid: number, semnum: number, cmd: typeof IPC_SET, buf: SemidSet): 0;
  semctl(semid: number, semnum: number, cmd: typeof IPC_RMID): 0;
  semctl(semid: number, semnum: number, cmd: number, arg?: number | readonly number[] | SemidSet):
    number | number[] | SemidDs | WithResult<SemidDs> | WithResult<SemInfo>;
  semctl(semid: number, semnum: number, cmd: number, arg?: number | readonly number[] | SemidSet):
    number | number[] | SemidDs | WithResult<SemidDs> | WithResult<SemInfo> {
    const id = int('semid', semid);
    const num = int('semnum', semnum);
    const c = int('cmd', cmd);
    if (c === SETALL) return this.setall(id, num, arg);
    let value = 0;
    let mask = 0;
    let uid = 0;
    let gid = 0;
    let mode = 0;
    if (c === SETVAL) {
      // union semun's int val
      value = int('value', arg);
    } else if (c === IPC_SET && id >= 0) {
      // ksys_semctl checks the id's sign, then copies IPC_SET's buffer in (EFAULT), then looks the id up
      const buf = arg as SemidSet | undefined | null;
      if (buf === undefined || buf === null) throw new IpcError(ERRNO.EFAULT, 'semctl');
      if (typeof buf !== 'object' || Array.isArray(buf)) throw new TypeError(`buf must be an object, got ${typeof buf}`);
      if (buf.uid !== undefined) { mask |= SET_UID; uid = unsigned32('uid', buf.uid); }
      if (buf.gid !== undefined) { mask |= SET_GID; gid = unsigned32('gid', buf.gid); }
      if (buf.mode !== undefined) { mask |= SET_MODE; mode = unsigned32('mode', buf.mode) | 0; }
    }
    const r = this.core.semctl(this.pid, id, num, c, value, mask, uid, gid, mode);
    if (r < 0) throw new IpcError(-r, 'semctl');
    switch (c) {
      case GETALL:
        return this.core.values(r);
      case IPC_STAT:
        return this.core.semid();
      case SEM_STAT:
      case SEM_STAT_ANY:
        return { result: r, ...this.core.semid() };
      case IPC_INFO:
      case SEM_INFO:
        return { result: r, ...this.core.seminfo() };
      default:
        return r;
    }
  }

  /**
   * SETALL: `values` holds exactly the set's nsems numbers, each stored as
   * C's unsigned short (modulo 65536). A missing array is C's NULL: EFAULT
   * where the kernel would copy it in, after the id and permission checks.
   */
  private setall(id: number, num: number, arg: unknown): 0 {
    const values = setallValues(arg);
    const r = this.core.setall(this.pid, id, num, values ?? []);
    if (r === VALUES_MISMATCH) {
      if (values === undefined) throw new IpcError(ERRNO.EFAULT, 'semctl');
      throw new RangeError(`SETALL takes exactly the set's ${this.core.aux()} values, got ${values.length}`);
    }
    if (r < 0) throw new IpcError(-r, 'semctl');
    return 0;
  }

  // ---- descriptors ------------------------------------------------------

  pipe(pipeFlags?: number): [number, number] {
    const r = this.core.pipe2(this.pid, flags('flags', pipeFlags));
    if (r < 0) throw new IpcError(-r, 'pipe2');
    return [r, this.core.aux2()];
  }

  mkfifo(path: string, mode?: number): void {
    const p = canonicalPath(path, 'mknod');
    const m = mode === undefined ? 0o666 : unsigned32('mode', mode);
    // the core knows no directories: one of the host's stands at the path
    if (p.text !== '/' && this.core.directories(p.text).kind === 'dir') throw new IpcError(ERRNO.EEXIST, 'mknod');
    const r = this.core.mkfifo(this.pid, p.bytes, pathHow(p, this.core.directories), m | 0);
    if (r < 0) throw new IpcError(-r, 'mknod');
  }

  open(path: string, openFlags: number, mode?: number, opts?: CallOptions): Promise<number> {
    try {
      const p = canonicalPath(path, 'open');
      const f = int('flags', openFlags);
      const m = mode === undefined ? 0o666 : unsigned32('mode', mode) | 0; // a regular file O_CREAT makes
      const o = opts === undefined ? NO_OPTIONS : callOptions(opts);
      const r = this.core.open(this.pid, p.bytes, pathHow(p, this.core.directories), f, m);
      if (r >= 0) return Promise.resolve(r);
      if (r === PENDING) return this.core.sleep<number>(this.pid, 'open', Settles.Number, o);
      return Promise.reject(new IpcError(-r, 'open'));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  unlink(path: string): void {
    const p = canonicalPath(path, 'unlink');
    const r = this.core.unlink(this.pid, p.bytes, pathHow(p, this.core.directories));
    if (r < 0) throw new IpcError(-r, 'unlink');
  }

  stat(path: string): Stat {
    const p = canonicalPath(path, 'stat');
    const r = this.core.stat(this.pid, p.bytes, pathHow(p, this.core.directories));
    if (typeof r !== 'number') return r;
    if (r === -ERRNO.ENOENT) {
      // not a FIFO: a directory of the host's, or nothing
      const dir = this.core.directories(p.text);
      if (dir.kind === 'dir') return { type: 'dir', mode: dir.mode };
    }
    throw new IpcError(-r, 'stat');
  }

  read(fd: number, count: number, opts?: CallOptions): Promise<Uint8Array> {
    try {
      const f = int('fd', fd);
      const c = rwCount(size('count', count));
      const o = opts === undefined ? NO_OPTIONS : callOptions(opts);
      const r = this.core.read(this.pid, f, c, 0);
      if (r >= 0) return Promise.resolve(this.core.stagedCopy(r));
      if (r === PENDING) return this.core.sleep<Uint8Array>(this.pid, 'read', Settles.Bytes, o);
      return Promise.reject(new IpcError(-r, 'read'));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  readSync(fd: number, count: number): Uint8Array {
    const r = this.core.read(this.pid, int('fd', fd), rwCount(size('count', count)), 1);
    if (r < 0) throw new IpcError(-r, 'read');
    return this.core.stagedCopy(r);
  }

  readInto(fd: number, buf: Uint8Array): number {
    // the usual call (an int fd, a non-empty Uint8Array) without validate.ts
    const r = typeof fd === 'number' && (fd | 0) === fd && buf instanceof Uint8Array && buf.length !== 0
      ? this.core.readInto(this.pid, fd, buf, buf.length > MAX_RW_COUNT ? MAX_RW_COUNT : buf.length)
      : this.core.readInto(this.pid, int('fd', fd), bytes('buf', buf), 0);
    if (r < 0) throw new IpcError(-r, 'read');
    return r;
  }

  write(fd: number, data: Uint8Array, opts?: CallOptions): Promise<number> {
    try {
      const f = int('fd', fd);
      const d = bytes('data', data);
      const o = opts === undefined ? NO_OPTIONS : callOptions(opts);
      const r = this.core.write(this.pid, f, d.length > MAX_RW_COUNT ? d.subarray(0, MAX_RW_COUNT) : d, 0);
      if (r >= 0) return Promise.resolve(r);
      if (r === PENDING) return this.core.sleep<number>(this.pid, 'write', Settles.Number, o);
      return Promise.reject(new IpcError(-r, 'write'));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  writeSync(fd: number, data: Uint8Array): number {
    const r = typeof fd === 'number' && (fd | 0) === fd && data instanceof Uint8Array && data.length !== 0
      && data.length <= MAX_RW_COUNT
      ? this.core.writeSync(this.pid, fd, data)
      : this.writeSyncChecked(fd, data);
    if (r < 0) throw new IpcError(-r, 'write');
    return r;
  }

  private writeSyncChecked(fd: unknown, data: unknown): number {
    const f = int('fd', fd);
    const d = bytes('data', data);
    return this.core.writeSync(this.pid, f, d.length > MAX_RW_COUNT ? d.subarray(0, MAX_RW_COUNT) : d);
  }

  close(fd: number): void {
    const r = this.core.close(this.pid, int('fd', fd));
    if (r < 0) throw new IpcError(-r, 'close');
  }

  dup(fd: number): number {
    const r = this.core.fcntl(this.pid, int('fd', fd), F_DUPFD, 0);
    if (r < 0) throw new IpcError(-r, 'dup');
    return r;
  }

  dup2(oldfd: number, newfd: number): number {
    const r = this.core.dup2(this.pid, int('oldfd', oldfd), int('newfd', newfd));
    if (r < 0) throw new IpcError(-r, 'dup2');
    return r;
  }

  dup3(oldfd: number, newfd: number, flags: number): number {
    const r = this.core.dup3(this.pid, int('oldfd', oldfd), int('newfd', newfd), int('flags', flags));
    if (r < 0) throw new IpcError(-r, 'dup3');
    return r;
  }

  fcntl(fd: number, cmd: number, arg?: number): number {
    const f = int('fd', fd);
    const c = int('cmd', cmd);
    // the C argument is an unsigned long that each command narrows; int commands see its low 32 bits
    const a = arg === undefined ? 0 : size('arg', arg) | 0;
    const r = this.core.fcntl(this.pid, f, c, a);
    if (r < 0) throw new IpcError(-r, 'fcntl');
    return r;
  }

  ioctl(fd: number, request: number): number {
    const r = this.core.ioctl(this.pid, int('fd', fd), unsigned32('request', request) | 0);
    if (r < 0) throw new IpcError(-r, 'ioctl');
    return r;
  }

  poll(fd: number, events: number, timeout: number, opts?: CallOptions): Promise<number>;
  poll(fds: readonly PollFd[], timeout: number, opts?: CallOptions): Promise<number[]>;
  poll(
    fd: number | readonly PollFd[], events: number, timeout?: number | CallOptions, opts?: CallOptions,
  ): Promise<number | number[]> {
    if (Array.isArray(fd)) return this.pollSet(fd, events, timeout as CallOptions | undefined);
    try {
      const f = int('fd', fd);
      const e = int('events', events) & 0xffff; // struct pollfd's events is a short
      const t = int('timeout', timeout);
      const o = opts === undefined ? NO_OPTIONS : callOptions(opts);
      const r = this.core.poll(this.pid, f, e, t === 0 ? 0 : 1);
      if (r >= 0) return Promise.resolve(r);
      if (r === PENDING) {
        const own = pollTimer(t, o);
        return this.core.sleep<number>(this.pid, 'poll', Settles.Poll, { signal: o.signal, timeout: own ? t : o.timeout }, 0, own);
      }
      return Promise.reject(new IpcError(-r, 'poll'));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  private pollSet(fds: unknown, timeout: number, opts?: CallOptions): Promise<number[]> {
    try {
      const triples = pollFds('fds', fds);
      const t = int('timeout', timeout);
      const o = opts === undefined ? NO_OPTIONS : callOptions(opts);
      const n = triples.length / 3;
      const r = this.core.pollSet(this.pid, triples, t === 0 ? 0 : 1);
      if (r >= 0) return Promise.resolve(this.core.pollRevents(n));
      if (r === PENDING) {
        const own = pollTimer(t, o);
        return this.core.sleep<number[]>(this.pid, 'poll', Settles.PollSet, { signal: o.signal, timeout: own ? t : o.timeout }, n, own);
      }
      return Promise.reject(new IpcError(-r, 'poll'));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  // ---- sockets ----------------------------------------------------------

  socketpair(domain: number, type: number, protocol?: number): [number, number] {
    const r = this.core.socketpair(this.pid, int('domain', domain), int('type', type), flags('protocol', protocol));
    if (r < 0) throw new IpcError(-r, 'socketpair');
    return [r, this.core.aux2()];
  }

  send(fd: number, data: Uint8Array, sendFlags?: number, opts?: CallOptions): Promise<number> {
    try {
      const f = int('fd', fd);
      const d = bytes('data', data);
      const fl = flags('flags', sendFlags);
      const o = opts === undefined ? NO_OPTIONS : callOptions(opts);
      const r = this.core.sendTo(this.pid, f, d.length > MAX_RW_COUNT ? d.subarray(0, MAX_RW_COUNT) : d, fl);
      if (r >= 0) return Promise.resolve(r);
      if (r === PENDING) return this.core.sleep<number>(this.pid, 'send', Settles.Number, o);
      return Promise.reject(new IpcError(-r, 'send'));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  sendto(fd: number, data: Uint8Array, path: string, sendFlags?: number, opts?: CallOptions): Promise<number> {
    try {
      const f = int('fd', fd);
      const d = bytes('data', data);
      const fl = flags('flags', sendFlags);
      const o = opts === undefined ? NO_OPTIONS : callOptions(opts);
      const name = socketName(path, 'sendto');
      let bytesOf: Uint8Array = NO_BYTES;
      let how = NAME_GIVEN;
      if (name.kind === 'path') {
        bytesOf = name.path.bytes;
        how |= pathHow(name.path, this.core.directories);
      } else if (name.kind === 'abstract') {
        bytesOf = name.bytes;
        how |= ABSTRACT_NAME;
      }
      let r = this.core.sendToName(this.pid, f, d.length > MAX_RW_COUNT ? d.subarray(0, MAX_RW_COUNT) : d, fl, bytesOf, how);
      // a directory of the host's is no socket file (unix_find_bsd: ECONNREFUSED)
      if (r === -ERRNO.ENOENT && name.kind === 'path' && this.core.directories(name.path.text).kind === 'dir') r = -ERRNO.ECONNREFUSED;
      if (r >= 0) return Promise.resolve(r);
      if (r === PENDING) return this.core.sleep<number>(this.pid, 'sendto', Settles.Number, o);
      return Promise.reject(new IpcError(-r, 'sendto'));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  recvfrom(fd: number, count: number, recvFlags?: number, opts?: CallOptions): Promise<DatagramFrom> {
    return this.receive<DatagramFrom>(fd, count, recvFlags, opts, true);
  }

  recv(fd: number, count: number, recvFlags?: number, opts?: CallOptions): Promise<Datagram> {
    return this.receive<Datagram>(fd, count, recvFlags, opts, false);
  }

  private receive<T extends Datagram>(fd: number, count: number, recvFlags: number | undefined, opts: CallOptions | undefined, from: boolean): Promise<T> {
    const syscall = from ? 'recvfrom' : 'recv';
    try {
      const f = int('fd', fd);
      // recvfrom(2) clamps a huge size_t (a negative count) to MAX_RW_COUNT before it checks the buffer (import_ubuf())
      const n = size('count', count);
      const c = n < 0 ? MAX_RW_COUNT : rwCount(n);
      const fl = flags('flags', recvFlags);
      const o = opts === undefined ? NO_OPTIONS : callOptions(opts);
      const r = this.core.recvFrom(this.pid, f, c, fl, from);
      if (r >= 0) return Promise.resolve((from ? this.core.receivedFrom(r) : this.core.received(r)) as T);
      if (r === PENDING) return this.core.sleep<T>(this.pid, syscall, from ? Settles.DatagramFrom : Settles.Datagram, o);
      return Promise.reject(new IpcError(-r, syscall));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  shutdown(fd: number, how: number): void {
    const r = this.core.shutdown(this.pid, int('fd', fd), int('how', how));
    if (r < 0) throw new IpcError(-r, 'shutdown');
  }

  setsockopt(fd: number, optname: number, value: number): void {
    const r = this.core.setsockopt(this.pid, int('fd', fd), SOL_SOCKET, int('optname', optname), int('value', value));
    if (r < 0) throw new IpcError(-r, 'setsockopt');
  }

  getsockopt(fd: number, optname: number): number {
    const r = this.core.getsockopt(this.pid, int('fd', fd), SOL_SOCKET, int('optname', optname));
    if (r < 0) throw new IpcError(-r, 'getsockopt');
    return r;
  }

  // ---- named AF_UNIX stream sockets ---------------------------------------

  socket(domain: number, type: number, protocol?: number): number {
    const r = this.core.socket(this.pid, int('domain', domain), int('type', type), flags('protocol', protocol));
    if (r < 0) throw new IpcError(-r, 'socket');
    return r;
  }

  bind(fd: number, path: string): void {
    const f = int('fd', fd);
    const name = socketName(path, 'bind');
    let r: number;
    if (name.kind === 'path') {
      const p = name.path;
      // the core knows no directories: one of the host's stands at the path (mknod's EEXIST)
      if (p.text !== '/' && this.core.directories(p.text).kind === 'dir') throw new IpcError(ERRNO.EADDRINUSE, 'bind');
      r = this.core.bind(this.pid, f, p.bytes, pathHow(p, this.core.directories), name.given);
    } else {
      r = name.kind === 'abstract'
        ? this.core.bind(this.pid, f, NO_BYTES, ABSTRACT_NAME, name.bytes)
        : this.core.bind(this.pid, f, NO_BYTES, AUTOBIND, NO_BYTES);
    }
    if (r < 0) throw new IpcError(-r, 'bind');
  }

  getsockname(fd: number): string {
    return this.sockName(fd, 0, 'getsockname');
  }

  getpeername(fd: number): string {
    return this.sockName(fd, 1, 'getpeername');
  }

  private sockName(fd: number, peer: number, syscall: string): string {
    const r = this.core.sockName(this.pid, int('fd', fd), peer);
    if (typeof r === 'number') throw new IpcError(-r, syscall);
    return NAMES.decode(r);
  }

  listen(fd: number, backlog: number): void {
    const r = this.core.sockListen(this.pid, int('fd', fd), int('backlog', backlog));
    if (r < 0) throw new IpcError(-r, 'listen');
  }

  connect(fd: number, path: string, opts?: CallOptions): Promise<void> {
    try {
      const f = int('fd', fd);
      const name = socketName(path, 'connect');
      const o = opts === undefined ? NO_OPTIONS : callOptions(opts);
      let r: number;
      if (name.kind === 'path') {
        const p = name.path;
        r = this.core.connect(this.pid, f, p.bytes, pathHow(p, this.core.directories));
        // a directory of the host's is no socket file (unix_find_bsd: ECONNREFUSED)
        if (r === -ERRNO.ENOENT && this.core.directories(p.text).kind === 'dir') r = -ERRNO.ECONNREFUSED;
      } else {
        r = this.core.connect(this.pid, f, name.kind === 'abstract' ? name.bytes : NO_BYTES, ABSTRACT_NAME);
      }
      if (r >= 0) return RESOLVED;
      if (r === PENDING) return this.core.sleep<void>(this.pid, 'connect', Settles.Nothing, o);
      return Promise.reject(new IpcError(-r, 'connect'));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  accept(fd: number, acceptFlags?: number, opts?: CallOptions): Promise<number> {
    try {
      const f = int('fd', fd);
      const fl = flags('flags', acceptFlags);
      const o = opts === undefined ? NO_OPTIONS : callOptions(opts);
      const r = this.core.accept(this.pid, f, fl);
      if (r >= 0) return Promise.resolve(r);
      if (r === PENDING) return this.core.sleep<number>(this.pid, 'accept', Settles.Number, o);
      return Promise.reject(new IpcError(-r, 'accept'));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  get sigpipes(): number {
    const r = this.core.sigpipes(this.pid);
    if (r < 0) throw new IpcError(-r, 'sigpipes');
    return r;
  }

  exit(): Promise<void> {
    try {
      const r = this.core.exit(this.pid);
      if (r < 0) throw new IpcError(-r, 'exit');
    } catch (error) {
      return Promise.reject(error);
    }
    return RESOLVED;
  }

  fork(): SimProcess {
    const child = this.core.fork(this.pid);
    if (child < 0) throw new IpcError(-child, 'fork');
    return new EmuProcess(this.core, child, this.uid, this.gid);
  }
}

/**
 * Whether a sleeping poll's timer is its own `timeout` (its passing answers
 * "nothing"), rather than the call's `opts.timeout`, which fails it with
 * EAGAIN as it does every call: the earlier of the two.
 */
function pollTimer(timeout: number, opts: CallOptions): boolean {
  return timeout > 0 && (opts.timeout === undefined || timeout <= opts.timeout);
}
