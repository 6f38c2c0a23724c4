/**
 * Runs one decoded scenario operation on a Process and normalizes its result
 * to what FORMAT.md's table says the call returns. Shared by every backend:
 * the emulator driver calls it in-process, the native actor agent in its
 * child process. Arguments arrive decoded (decode.ts): numbers, bigints for
 * C longs beyond 2^53, Uint8Array data, plain objects.
 *
 * Message queues, semaphores and the descriptor calls (pipes, FIFOs, Unix
 * sockets) exist in the Process interface; shared memory and POSIX queues do
 * not yet, and their operations are an UnsupportedOp, which fails the
 * scenario ("unsupported operation X on this backend"), never skips it.
 *
 * Descriptors are plain numbers in each backend's own per-process table (the
 * emulated process's, or the agent's real one), so "$r" passes through
 * unmapped, and an actor naming another actor's descriptor names its own
 * table's entry, as FORMAT.md wants.
 */

import { getEventListeners } from 'node:events';
import type { CallOptions, MsqidSet, MType, Process, SemBuf, SemidSet, Timespec } from '../api.js';
import { MSG_TRUNC } from '../constants.js';

/**
 * Per-actor tables the operations keep between calls: none so far. Queues and
 * sets are named by kernel ids, descriptors live in the backend's own
 * per-process table (and a fork copies it there). Shared memory attachments
 * and mq_notify counts, out of scope so far, are what would need one.
 */
export interface ActorState {}

export function newActorState(): ActorState {
  return {};
}

/** A forked child's tables: a copy of its parent's (FORMAT.md fork: descriptors and attachments are inherited). */
export function forkActorState(parent: ActorState): ActorState {
  return { ...parent };
}

/** The operations runOp implements. */
export const SUPPORTED_OPS: ReadonlySet<string> = new Set([
  'msgget', 'msgsnd', 'msgrcv', 'msgctl', 'semget', 'semop', 'semtimedop', 'semctl',
  'pipe', 'mkfifo', 'open', 'unlink', 'stat', 'read', 'write', 'close', 'fcntl', 'ioctl', 'poll',
  'socketpair', 'send', 'recv', 'shutdown', 'setsockopt', 'getsockopt',
]);

export class UnsupportedOp extends Error {
  override readonly name = 'UnsupportedOp';
  constructor(readonly op: string) {
    super(`unsupported operation ${op} on this backend`);
  }
}

/** Options for one call: the signal the driver aborts to interrupt it (FORMAT.md "interrupt"; see CallSignal). */
export interface OpOptions {
  signal?: AbortSignal;
}

/**
 * One pending call's interrupts (FORMAT.md "interrupt"), each an abort of the
 * signal the call listens to now. Without SA_RESTART the reason is an Error;
 * with it, `{ restart: true, signal }` (contract.md), the backend deciding
 * what the call does. A call Linux restarts is a new system call, so it
 * needs a new signal for the next interrupt: the reason carries one, and a
 * backend that keeps the call asleep listens to it. An AbortSignal fires
 * once, so where a backend does not take that new signal up, the call can
 * no longer be interrupted: interrupt() then throws rather than pretend.
 */
export class CallSignal {
  private controller = new AbortController();

  /** The signal to pass to the call when it starts. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  interrupt(restart: boolean): void {
    const current = this.controller;
    // The backend removes its listener once the call has answered, or sleeps on without one.
    if (current.signal.aborted || getEventListeners(current.signal, 'abort').length === 0) {
      throw new Error(
        'this call can no longer be interrupted: it went on sleeping after an SA_RESTART interrupt and the backend ' +
          "does not listen to the reason's `signal` for the restarted call",
      );
    }
    if (!restart) {
      current.abort(new Error('interrupted by the conformance runner'));
      return;
    }
    this.controller = new AbortController();
    current.abort({ restart: true, signal: this.controller.signal });
  }
}

/** A result object as a plain JSON-like record (backends may return class instances or extra getters). */
function plain(v: unknown): unknown {
  if (v instanceof Uint8Array || typeof v !== 'object' || v === null) return v;
  if (Array.isArray(v)) return v.map(plain);
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) out[k] = plain(x);
  return out;
}

/**
 * Runs one decoded op on a Process; resolves to the normalized result,
 * rejects with IpcError. `opts.signal` (an addition to the four-argument
 * form; optional) lets the caller interrupt a call that blocks.
 */
export async function runOp(p: Process, op: string, args: unknown[], _state: ActorState, opts: OpOptions = {}): Promise<unknown> {
  const call: CallOptions = opts.signal ? { signal: opts.signal } : {};
  switch (op) {
    case 'msgget':
      return p.msgget(args[0] as number, args[1] as number);
    case 'msgsnd':
      await p.msgsnd(args[0] as number, args[1] as MType, args[2] as Uint8Array, args[3] as number, call);
      return 0;
    case 'msgrcv': {
      const { mtype, data } = await p.msgrcv(args[0] as number, args[1] as number, args[2] as MType, args[3] as number, call);
      return { mtype, data };
    }
    case 'msgctl':
      // a command given as a number goes to the backend as it is (unknown ones: EINVAL)
      return plain(p.msgctl(args[0] as number, args[1] as number, args[2] as MsqidSet | undefined));
    case 'semget':
      return p.semget(args[0] as number, args[1] as number, args[2] as number);
    case 'semop':
      await p.semop(args[0] as number, args[1] as SemBuf[], call);
      return 0;
    case 'semtimedop':
      // a number of ms, a raw { sec, nsec } passed as it is, or null
      await p.semtimedop(args[0] as number, args[1] as SemBuf[], args[2] as number | Timespec | null, call);
      return 0;
    case 'semctl':
      // GETALL answers the array of values; SETALL's were made unsigned shorts by decode.ts; a command given as a number goes as it is
      return plain(p.semctl(args[0] as number, args[1] as number, args[2] as number, args[3] as number | number[] | SemidSet | undefined));
    case 'pipe':
      return p.pipe(args[0] as number);
    case 'mkfifo':
      p.mkfifo(args[0] as string, args[1] as number);
      return 0;
    case 'open':
      return p.open(args[0] as string, args[1] as number, args[2] as number, call);
    case 'unlink':
      p.unlink(args[0] as string);
      return 0;
    case 'stat': {
      const { type, mode } = p.stat(args[0] as string);
      return { type, mode };
    }
    case 'read':
      return p.read(args[0] as number, args[1] as number, call);
    case 'write':
      return p.write(args[0] as number, args[1] as Uint8Array, call);
    case 'close':
      p.close(args[0] as number);
      return 0;
    case 'fcntl':
      // FORMAT.md: F_SETFL and F_SETPIPE_SZ answer 0 and the new size: what fcntl returns
      return args.length > 2 ? p.fcntl(args[0] as number, args[1] as number, fcntlArg(args[2] as number | bigint)) : p.fcntl(args[0] as number, args[1] as number);
    case 'ioctl':
      return p.ioctl(args[0] as number, args[1] as number);
    case 'poll':
      return p.poll(args[0] as number, args[1] as number, args[2] as number, call);
    case 'socketpair':
      return p.socketpair(args[0] as number, args[1] as number, args[2] as number);
    case 'send':
      return p.send(args[0] as number, args[1] as Uint8Array, args[2] as number, call);
    case 'recv': {
      const flags = args[2] as number;
      const { data, length } = await p.recv(args[0] as number, args[1] as number, flags, call);
      // FORMAT.md: the return value is visible only where the scenario asked for MSG_TRUNC
      return (flags & MSG_TRUNC) !== 0 ? { data, length } : data;
    }
    case 'shutdown':
      p.shutdown(args[0] as number, args[1] as number);
      return 0;
    case 'setsockopt':
      p.setsockopt(args[0] as number, args[1] as number, args[2] as number);
      return 0;
    case 'getsockopt':
      return p.getsockopt(args[0] as number, args[1] as number);
    default:
      throw new UnsupportedOp(op);
  }
}

/**
 * fcntl's argument as the kernel reads it: every command FORMAT.md names
 * (and every one that takes no pointer) reads it as an int or unsigned int
 * (fs/fcntl.c: do_fcntl() passes `argi = (unsigned int)arg` to F_SETFL,
 * F_SETPIPE_SZ, F_DUPFD...; F_SETFD reads `arg & FD_CLOEXEC`), so a C
 * caller's long is cut to its low 32 bits before the backend sees it: 2^32
 * is 0, -1 is 0xffffffff.
 */
function fcntlArg(v: number | bigint): number {
  return Number(BigInt.asUintN(32, BigInt(v)));
}
