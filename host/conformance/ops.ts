/**
 * Runs one decoded scenario operation on a Process and normalizes its result
 * to what FORMAT.md's table says the call returns. Shared by every backend:
 * the emulator driver calls it in-process, the native actor agent in its
 * child process. Arguments arrive decoded (decode.ts): numbers, bigints for
 * C longs beyond 2^53, Uint8Array data, plain objects.
 *
 * Only the message-queue and semaphore calls exist in the Process interface
 * today; every other FORMAT.md operation is an UnsupportedOp, which fails the
 * scenario ("unsupported operation X on this backend"), never skips it.
 */

import type { CallOptions, MsqidSet, MType, Process, SemBuf, SemidSet, Timespec } from '../api.js';

/**
 * Per-actor tables the operations keep between calls. Empty while only
 * message queues exist (they need none); shm attachments, descriptors and
 * notification counts land here with their kinds.
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
export const SUPPORTED_OPS: ReadonlySet<string> = new Set(['msgget', 'msgsnd', 'msgrcv', 'msgctl', 'semget', 'semop', 'semtimedop', 'semctl']);

export class UnsupportedOp extends Error {
  override readonly name = 'UnsupportedOp';
  constructor(readonly op: string) {
    super(`unsupported operation ${op} on this backend`);
  }
}

/** Options for one call: the signal the driver aborts to interrupt it (FORMAT.md "interrupt"). */
export interface OpOptions {
  signal?: AbortSignal;
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
    default:
      throw new UnsupportedOp(op);
  }
}
