/**
 * What of a call's answer is compared between the emulator and the kernel,
 * and how. An answer is normalized per backend first, so that what depends
 * only on the machine or the run compares equal:
 *
 * - queue ids become the symbol of the queue they name ("$q5"), in msgget's
 *   result and in MSG_STAT's `result`;
 * - pids become the actor ("$pid:A"); a thread of the actor counts as the
 *   actor ("$tid:A"): after a pipelined receive Linux stores the receiving
 *   thread's id in msg_lrpid (CHECKLIST 53), and the native backend receives
 *   on a thread of its own;
 * - times only as zero or nonzero ({ nonzero }); `msg_perm.key` as the small
 *   key; IPC_INFO / MSG_INFO only as their limits (msgmax, msgmnb, msgmni,
 *   msgssz, msgseg), since the counts and the highest index are the whole
 *   machine's.
 *
 * Everything else (errno, sizes, types, bytes, modes, uids, counters)
 * compares exactly.
 */

import { GETPID, IPC_INFO, IPC_STAT, MSG_INFO, MSG_STAT, MSG_STAT_ANY, SEM_INFO, SEM_STAT, SEM_STAT_ANY } from '../constants.js';
import type { Outcome } from '../conformance/driver.js';
import { isRecord, unkey } from '../conformance/values.js';
import { errnoName } from '../errors.js';
import type { FuzzStep } from './trace.js';

/** A normalized answer: an errno, a backend failure (no answer at all), or a value. */
export type Norm = { errno: string } | { fault: string } | { value: unknown };

/** A call's state after a step: still asleep, or its normalized answer. */
export type CallState = 'pending' | Norm;

/** What normalizing needs from a backend's run. */
export interface NormContext {
  readonly keyBase: number;
  /** The symbol an id stands for ("$q5"), or undefined for an id this run never saw. */
  symbolOf(id: number, kind?: 'msg' | 'sem'): string | undefined;
  /** "$pid:A" (the actor's pid), "$tid:A" (another thread of actor A) or "$pid:?N" (no actor's). */
  pidName(pid: number): string;
  /** The name a pipe or socketpair end's descriptor is bound to ("$r5"), if any. */
  fdSymbol?(fd: number): string | undefined;
}

const INFO_LIMITS = ['msgmax', 'msgmnb', 'msgmni', 'msgssz', 'msgseg'] as const;
const SEM_INFO_LIMITS = ['semmni', 'semmsl', 'semmns', 'semopm', 'semvmx', 'semaem', 'semume', 'semusz', 'semmap', 'semmnu'] as const;
const PID_FIELDS = new Set(['msg_lspid', 'msg_lrpid']);
const TIME_FIELDS = new Set(['msg_stime', 'msg_rtime', 'msg_ctime', 'sem_otime', 'sem_ctime']);

function statNorm(v: Record<string, unknown>, ctx: NormContext): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) {
    if (k === 'result') continue;
    if ((k === 'msg_perm' || k === 'sem_perm') && isRecord(x)) {
      out[k] = { ...x, key: typeof x.key === 'number' ? unkey(x.key, ctx.keyBase) : x.key };
    } else if (TIME_FIELDS.has(k) && typeof x === 'number') {
      out[k] = { nonzero: x !== 0 };
    } else if (PID_FIELDS.has(k) && typeof x === 'number') {
      out[k] = x === 0 ? 0 : ctx.pidName(x);
    } else {
      out[k] = x;
    }
  }
  return out;
}

function idNorm(id: unknown, ctx: NormContext, kind: 'msg' | 'sem' = 'msg'): unknown {
  if (typeof id !== 'number') return id;
  return ctx.symbolOf(id, kind) ?? '$?id';
}

/** semctl's answer (decoded args: semid, semnum, cmd, arg): GETPID as the actor, sem ids as symbols. */
function semctlNorm(cmd: unknown, value: unknown, ctx: NormContext): unknown {
  if (cmd === GETPID && typeof value === 'number') return value === 0 ? 0 : ctx.pidName(value);
  if (!isRecord(value)) return value;
  if (cmd === IPC_STAT) return statNorm(value, ctx);
  if (cmd === SEM_STAT || cmd === SEM_STAT_ANY) return { result: idNorm(value.result, ctx, 'sem'), ...statNorm(value, ctx) };
  if (cmd === IPC_INFO || cmd === SEM_INFO) {
    // the counts (semusz, semaem under SEM_INFO) and `result` are the whole machine's: limits only
    const out: Record<string, unknown> = {};
    for (const k of SEM_INFO_LIMITS) if (cmd === IPC_INFO || !['semusz', 'semaem'].includes(k)) out[k] = value[k];
    return out;
  }
  return value;
}

/**
 * Normalizes a successful answer of `op` (decoded arguments `args`). A
 * msgget's id must already be bound to its symbol by the caller.
 */
export function normalizeValue(op: string, args: readonly unknown[], value: unknown, ctx: NormContext): unknown {
  if (op === 'msgget') return idNorm(value, ctx);
  // descriptor numbers differ between backends (the native agents hold descriptors of their own)
  if ((op === 'pipe' || op === 'socketpair') && Array.isArray(value)) return value.map((fd) => (typeof fd === 'number' ? (ctx.fdSymbol?.(fd) ?? '$?fd') : fd));
  if (op === 'semget') return idNorm(value, ctx, 'sem');
  if (op === 'semctl') return semctlNorm(args[2], value, ctx);
  if (op !== 'msgctl' || !isRecord(value)) return value;
  const cmd = args[1];
  if (cmd === IPC_STAT) return statNorm(value, ctx);
  if (cmd === MSG_STAT || cmd === MSG_STAT_ANY) return { result: idNorm(value.result, ctx), ...statNorm(value, ctx) };
  if (cmd === IPC_INFO || cmd === MSG_INFO) {
    const out: Record<string, unknown> = {};
    for (const k of INFO_LIMITS) out[k] = value[k];
    return out;
  }
  return value;
}

/** An outcome as compared: errno by name, a fault by its message, a value normalized. */
export function normalizeOutcome(op: string, args: readonly unknown[], outcome: Outcome, ctx: NormContext): Norm {
  if (!outcome.ok) return outcome.fault !== undefined ? { fault: outcome.fault } : { errno: errnoName(outcome.errno) };
  return { value: normalizeValue(op, args, outcome.value, ctx) };
}

/** "$tid:A" and "$pid:A" are the same actor. */
function canonical(v: unknown): unknown {
  return typeof v === 'string' && v.startsWith('$tid:') ? '$pid:' + v.slice(5) : v;
}

function isInteger(v: unknown): v is number | bigint {
  return typeof v === 'bigint' || (typeof v === 'number' && Number.isInteger(v));
}

/** The path of the first difference between two normalized values ('' for the values themselves), or undefined. */
export function firstDifference(a: unknown, b: unknown, path = ''): string | undefined {
  a = canonical(a);
  b = canonical(b);
  if (a instanceof Uint8Array || b instanceof Uint8Array) {
    if (!(a instanceof Uint8Array && b instanceof Uint8Array) || a.length !== b.length) return path;
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return path;
    return undefined;
  }
  if (isInteger(a) && isInteger(b)) return BigInt(a) === BigInt(b) ? undefined : path;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b)) return path;
    for (let i = 0; i < Math.max(a.length, b.length); i++) {
      const d = firstDifference(a[i], b[i], `${path}[${i}]`);
      if (d !== undefined) return d;
    }
    return undefined;
  }
  if (isRecord(a) || isRecord(b)) {
    if (!isRecord(a) || !isRecord(b)) return path;
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
    for (const k of keys) {
      const sub = path === '' ? k : `${path}.${k}`;
      if (!Object.hasOwn(a, k) || !Object.hasOwn(b, k)) return sub;
      const d = firstDifference(a[k], b[k], sub);
      if (d !== undefined) return d;
    }
    return undefined;
  }
  return Object.is(a, b) ? undefined : path;
}

/**
 * How two call states differ: undefined when they agree; else what differs,
 * precise enough to tell one bug from another ("pending", "errno
 * ENOMSG/E2BIG", "value.msg_qnum", "fault").
 */
export function compareStates(subject: CallState, reference: CallState): string | undefined {
  if (subject === 'pending' || reference === 'pending') {
    return subject === reference ? undefined : `pending ${subject === 'pending' ? 'only on the subject' : 'only on the reference'}`;
  }
  if ('fault' in subject || 'fault' in reference) return 'fault';
  if ('errno' in subject && 'errno' in reference) return subject.errno === reference.errno ? undefined : `errno ${subject.errno}/${reference.errno}`;
  if ('errno' in subject || 'errno' in reference) return `outcome ${'errno' in subject ? subject.errno : 'success'}/${'errno' in reference ? reference.errno : 'success'}`;
  const d = firstDifference(subject.value, reference.value);
  return d === undefined ? undefined : d === '' ? 'value' : `value.${d}`;
}

const COMMAND_NAMES: Readonly<Record<number, string>> = {
  0: 'IPC_RMID', 1: 'IPC_SET', 2: 'IPC_STAT', 3: 'IPC_INFO', 11: 'MSG_STAT', 12: 'MSG_INFO', 13: 'MSG_STAT_ANY',
};

/** A step as a short label: "msgrcv", "msgctl IPC_STAT", "msgctl 258", "interrupt". */
export function stepLabel(step: FuzzStep): string {
  if (step.kind === 'interrupt' || step.kind === 'fork' || step.kind === 'exit') return step.kind;
  if (step.op !== 'msgctl' && step.op !== 'semctl') return step.op;
  const cmd = step.op === 'semctl' ? step.args[2] : step.args[1];
  if (step.op === 'semctl') return `semctl ${String(cmd)}`;
  return `msgctl ${typeof cmd === 'number' ? (COMMAND_NAMES[cmd] ?? String(cmd)) : String(cmd)}`;
}
