/**
 * SysV message queues over the real kernel: argument checks (validate.ts,
 * shared with the emulator), the addon's raw calls, and results shaped as
 * api.ts says.
 *
 * A blocking call first tries once with IPC_NOWAIT on this thread: most
 * calls need no sleep, and those settle without a thread hand-off. Only one
 * that would block (EAGAIN for msgsnd, ENOMSG for msgrcv) goes to a worker
 * thread. That probe changes no answer: MSG_COPY, the one flag whose
 * meaning depends on IPC_NOWAIT, skips it.
 *
 * The *Here forms sleep on the calling thread instead (native/here.h), for
 * a caller whose calls must be made by that very thread (the conformance
 * agent's main thread: Linux records the thread after a pipelined receive).
 */

import type {
  CallOptions, Message, MsgInfo, MsqidDs, MsqidSet, MType, Received, WithResult,
} from '../api.js';
import {
  IPC_INFO, IPC_NOWAIT, IPC_RMID, IPC_SET, IPC_STAT, MSG_COPY, MSG_INFO, MSG_STAT, MSG_STAT_ANY,
} from '../constants.js';
import { ERRNO, IpcError, check } from '../errors.js';
import { bytes, flags, int, mtype as longArg, size, unsigned32 } from '../validate.js';
import { CTL_SLOTS, INFO, IO, receivedMtype, SET, STAT, type RawAddon } from './addon.js';
import { type BlockingCalls, blockingOptions, hereOptions, wouldSleepError } from './wait.js';

/**
 * validate.bytes() with its common case first: a non-empty Uint8Array is
 * never detached, so it needs no more. `.length`, not `.byteLength`: Node
 * 20's optimizing compiler inlines only the former (the latter costs a call,
 * ~10 ns, on every send and receive).
 */
function bytesArg(name: string, value: unknown): Uint8Array {
  return value instanceof Uint8Array && value.length !== 0 ? value : bytes(name, value);
}

/** A C long argument: a safe integer number stays a number (no BigInt on the hot path). */
function typeArg(name: string, value: unknown): MType {
  return typeof value === 'number' && Number.isSafeInteger(value) ? value : longArg(name, value);
}

const resolved = Promise.resolve();

export class MsgCalls {
  private readonly ctl = new Float64Array(CTL_SLOTS);
  /** The addon's shared numbers (addon.ts IO): the hot paths' arguments and every sync receive's mtype. */
  private readonly io: Float64Array;

  constructor(private readonly raw: RawAddon, private readonly calls: BlockingCalls) {
    this.io = raw.io;
  }

  msgget(key: number, msgflg?: number): number {
    return check(this.raw.msgget(int('key', key), flags('msgflg', msgflg)), 'msgget');
  }

  msgsndSync(msqid: number, mtype: MType, data: Uint8Array, msgflg?: number): void {
    const rc = this.send(int('msqid', msqid), typeArg('mtype', mtype), bytesArg('data', data), flags('msgflg', msgflg));
    if (rc < 0) throw new IpcError(-rc, 'msgsnd');
  }

  /** One msgsnd with IPC_NOWAIT, of validated arguments: 0 or -errno. A number mtype goes through io. */
  private send(id: number, type: MType, text: Uint8Array, flag: number): number {
    if (typeof type !== 'number') return this.raw.msgsnd(id, type, text, flag);
    const io = this.io;
    io[IO.msqid] = id;
    io[IO.type] = type;
    io[IO.flags] = flag;
    return this.raw.msgsndIo(text);
  }

  msgsnd(msqid: number, mtype: MType, data: Uint8Array, msgflg?: number, opts?: CallOptions): Promise<void> {
    let id: number, type: MType, text: Uint8Array, flag: number, options: CallOptions;
    try {
      id = int('msqid', msqid);
      type = typeArg('mtype', mtype);
      text = bytesArg('data', data);
      flag = flags('msgflg', msgflg);
      options = blockingOptions(opts);
    } catch (error) {
      return Promise.reject(error);
    }
    const rc = this.send(id, type, text, flag);
    if (rc === 0) return resolved;
    if (rc !== -ERRNO.EAGAIN || (flag & IPC_NOWAIT) !== 0) return Promise.reject(new IpcError(-rc, 'msgsnd'));
    const early = wouldSleepError(options, 'msgsnd', false);
    if (early !== undefined) return Promise.reject(early);
    return this.calls.run('msgsnd', () => this.raw.msgsndStart(id, type, text, flag), options).then(nothing);
  }

  msgrcvSync(msqid: number, msgsz: number, msgtyp: MType, msgflg?: number): Message {
    const got = this.raw.msgrcv(int('msqid', msqid), size('msgsz', msgsz), typeArg('msgtyp', msgtyp), flags('msgflg', msgflg));
    if (typeof got === 'number') throw new IpcError(-got, 'msgrcv');
    return { mtype: receivedMtype(this.raw), data: got };
  }

  msgrcvInto(msqid: number, buf: Uint8Array, msgtyp: MType, msgflg?: number): Received {
    const id = int('msqid', msqid);
    const into = bytesArg('buf', buf);
    const type = typeArg('msgtyp', msgtyp);
    const flag = flags('msgflg', msgflg);
    const io = this.io;
    let length: number;
    if (typeof type === 'number') {
      io[IO.msqid] = id;
      io[IO.type] = type;
      io[IO.flags] = flag;
      length = this.raw.msgrcvIntoIo(into);
    } else {
      length = this.raw.msgrcvInto(id, into, type, flag);
    }
    if (length < 0) throw new IpcError(-length, 'msgrcv');
    const mtype = io[IO.mtype]!;
    return { mtype: mtype === mtype ? mtype : this.raw.lastMtype(), length };
  }

  msgrcv(msqid: number, msgsz: number, msgtyp: MType, msgflg?: number, opts?: CallOptions): Promise<Message> {
    let id: number, max: number, type: MType, flag: number, options: CallOptions;
    try {
      id = int('msqid', msqid);
      max = size('msgsz', msgsz);
      type = typeArg('msgtyp', msgtyp);
      flag = flags('msgflg', msgflg);
      options = blockingOptions(opts);
    } catch (error) {
      return Promise.reject(error);
    }
    const nowait = (flag & IPC_NOWAIT) !== 0;
    if (nowait || (flag & MSG_COPY) === 0) {
      const got = this.raw.msgrcv(id, max, type, flag);
      if (typeof got !== 'number') return Promise.resolve({ mtype: receivedMtype(this.raw), data: got });
      if (got !== -ERRNO.ENOMSG || nowait) return Promise.reject(new IpcError(-got, 'msgrcv'));
      const early = wouldSleepError(options, 'msgrcv', false);
      if (early !== undefined) return Promise.reject(early);
    }
    return this.calls.run('msgrcv', () => this.raw.msgrcvStart(id, max, type, flag), options).then(
      (outcome) => ({ mtype: outcome.mtype!, data: outcome.data! }),
    );
  }

  /**
   * msgsnd that sleeps on the calling thread while the queue is full; another
   * thread ends the sleep with interruptThread (EINTR). `opts.signal` counts
   * only if already aborted (no JavaScript runs on this thread while it
   * sleeps); `opts.timeout` cannot be kept here, so it is refused.
   */
  msgsndHere(msqid: number, mtype: MType, data: Uint8Array, msgflg?: number, opts?: CallOptions): void {
    const id = int('msqid', msqid);
    const type = typeArg('mtype', mtype);
    const text = bytesArg('data', data);
    const flag = flags('msgflg', msgflg);
    const options = hereOptions(opts);
    if (options.signal?.aborted && (flag & IPC_NOWAIT) === 0) {
      const rc = this.raw.msgsnd(id, type, text, flag);
      if (rc === -ERRNO.EAGAIN) throw new IpcError(ERRNO.EINTR, 'msgsnd', { cause: options.signal.reason });
      if (rc < 0) throw new IpcError(-rc, 'msgsnd');
      return;
    }
    const rc = this.raw.msgsndHere(id, type, text, flag);
    if (rc < 0) throw new IpcError(-rc, 'msgsnd');
  }

  /** msgrcv that sleeps on the calling thread until a message matches; as msgsndHere for `opts`. */
  msgrcvHere(msqid: number, msgsz: number, msgtyp: MType, msgflg?: number, opts?: CallOptions): Message {
    const id = int('msqid', msqid);
    const max = size('msgsz', msgsz);
    const type = typeArg('msgtyp', msgtyp);
    const flag = flags('msgflg', msgflg);
    const options = hereOptions(opts);
    // MSG_COPY's meaning depends on IPC_NOWAIT: without it the kernel answers EINVAL at once, never sleeping.
    const probe = options.signal?.aborted && (flag & (IPC_NOWAIT | MSG_COPY)) === 0;
    const got = probe ? this.raw.msgrcv(id, max, type, flag) : this.raw.msgrcvHere(id, max, type, flag);
    if (typeof got !== 'number') return { mtype: receivedMtype(this.raw), data: got };
    if (probe && got === -ERRNO.ENOMSG) throw new IpcError(ERRNO.EINTR, 'msgrcv', { cause: options.signal!.reason });
    throw new IpcError(-got, 'msgrcv');
  }

  msgctl(msqid: number, cmd: number, buf?: MsqidSet): number | MsqidDs | WithResult<MsqidDs> | WithResult<MsgInfo> {
    const id = int('msqid', msqid);
    const command = int('cmd', cmd);
    switch (command) {
      case IPC_STAT:
        this.ctlCall(id, command);
        return this.stat();
      case MSG_STAT:
      case MSG_STAT_ANY: {
        const result = this.ctlCall(id, command);
        return { ...this.stat(), result };
      }
      case IPC_INFO:
      case MSG_INFO: {
        const result = this.ctlCall(id, command);
        return { ...this.info(), result };
      }
      case IPC_SET:
        return this.set(id, buf);
      case IPC_RMID:
        return this.ctlCall(id, command);
      default:
        // Linux answers unknown commands (EINVAL); the addon passes them as they are.
        return this.ctlCall(id, command);
    }
  }

  private ctlCall(id: number, command: number): number {
    return check(this.raw.msgctl(id, command, this.ctl), 'msgctl');
  }

  private stat(): MsqidDs {
    const c = this.ctl;
    return {
      msg_perm: { key: c[STAT.key]!, uid: c[STAT.uid]!, gid: c[STAT.gid]!, cuid: c[STAT.cuid]!, cgid: c[STAT.cgid]!, mode: c[STAT.mode]! },
      msg_stime: c[STAT.stime]!,
      msg_rtime: c[STAT.rtime]!,
      msg_ctime: c[STAT.ctime]!,
      msg_cbytes: c[STAT.cbytes]!,
      msg_qnum: c[STAT.qnum]!,
      msg_qbytes: c[STAT.qbytes]!,
      msg_lspid: c[STAT.lspid]!,
      msg_lrpid: c[STAT.lrpid]!,
    };
  }

  private info(): MsgInfo {
    const c = this.ctl;
    return {
      msgpool: c[INFO.msgpool]!, msgmap: c[INFO.msgmap]!, msgmax: c[INFO.msgmax]!, msgmnb: c[INFO.msgmnb]!,
      msgmni: c[INFO.msgmni]!, msgssz: c[INFO.msgssz]!, msgtql: c[INFO.msgtql]!, msgseg: c[INFO.msgseg]!,
    };
  }

  /**
   * IPC_SET takes a whole msqid_ds, so fields left out are read first, as a C
   * program does (IPC_STAT, then change, then IPC_SET): not atomic with
   * other processes' changes in between. An owner without read permission
   * cannot IPC_STAT, so MSG_STAT_ANY (no read check; Linux ≥ 4.17, given the
   * id, it keeps its index bits) reads for it.
   */
  private set(id: number, buf: MsqidSet | undefined): 0 {
    if (typeof buf !== 'object' || buf === null) throw new TypeError(`msgctl IPC_SET needs a buf object, got ${buf === null ? 'null' : typeof buf}`);
    // uid_t, gid_t and mode_t are unsigned: (uid_t)-1 reaches the kernel, which answers EINVAL.
    const want = {
      uid: buf.uid === undefined ? undefined : unsigned32('buf.uid', buf.uid),
      gid: buf.gid === undefined ? undefined : unsigned32('buf.gid', buf.gid),
      mode: buf.mode === undefined ? undefined : unsigned32('buf.mode', buf.mode),
      qbytes: buf.msg_qbytes === undefined ? undefined : size('buf.msg_qbytes', buf.msg_qbytes),
    };
    const c = this.ctl;
    if (want.uid === undefined || want.gid === undefined || want.mode === undefined || want.qbytes === undefined) {
      this.readForSet(id);
      want.uid ??= c[STAT.uid]!;
      want.gid ??= c[STAT.gid]!;
      want.mode ??= c[STAT.mode]!;
      want.qbytes ??= c[STAT.qbytes]!;
    }
    c[SET.uid] = want.uid;
    c[SET.gid] = want.gid;
    c[SET.mode] = want.mode;
    c[SET.qbytes] = want.qbytes;
    this.ctlCall(id, IPC_SET);
    return 0;
  }

  private readForSet(id: number): void {
    const rc = this.raw.msgctl(id, IPC_STAT, this.ctl);
    if (rc >= 0) return;
    if (rc === -ERRNO.EACCES && this.raw.msgctl(id, MSG_STAT_ANY, this.ctl) === id) return;
    throw new IpcError(-rc, 'msgctl');
  }
}

function nothing(): void {}
