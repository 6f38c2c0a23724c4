/**
 * Every operation of FORMAT.md's table, with how its arguments decode: the
 * scenario's values (after "$name" resolution) become what `runOp` (ops.ts)
 * is given on every backend. Decoding is the runner's job, so a malformed
 * call is a scenario error on every backend alike, including for operations
 * a backend does not implement yet (those then fail as unsupported).
 *
 * Decoded forms: C ints as numbers; C longs as numbers, or bigints beyond
 * 2^53; data as Uint8Array; flags and commands as numbers; timeouts as
 * values.ts `Timeout`; IPC_SET fields as { field: number }; paths and queue
 * names as strings already placed in the run's directory / prefix.
 */

import {
  F_GETFD, F_GETFL, F_GETPIPE_SZ, F_SETFD, F_SETFL, F_SETPIPE_SZ, GETALL, GETNCNT, GETPID, GETVAL, GETZCNT,
  IPC_INFO, IPC_RMID, IPC_SET, IPC_STAT, SEM_INFO, SEM_STAT, SEM_STAT_ANY, SETALL, SETVAL, SIGEV_THREAD,
} from '../constants.js';
import { ScenarioError } from './scenario-error.js';
import {
  bufferSize, cInt, cLong, command, count, decodeData, decodeKey, decodeSemOps, decodeSetFields, decodeTimeout,
  describe, fsPath, integer, isRecord, mqName, safeInt, timeoutAllowance, type Timeout,
} from './values.js';

/** What decoding needs from the run. */
export interface DecodeContext {
  keyBase: number;
  mqPrefix: string;
  dir: string;
}

interface OpSpec {
  /** Fewest and most arguments (after OP). */
  readonly arity: readonly [number, number];
  decode(a: readonly unknown[], ctx: DecodeContext): unknown[];
  /** Index (in the decoded arguments) of the call's own timeout. */
  readonly timeoutArg?: number;
  /** The timeout is an absolute CLOCK_REALTIME time (mq_timed*), not a duration. */
  readonly absoluteTimeout?: boolean;
}

const opt = (a: readonly unknown[], i: number, dflt: unknown): unknown => (a.length > i ? a[i] : dflt);
const flags = (v: unknown, what = 'flags'): number => cInt(v, what);

function ctl(kind: 'msg' | 'shm', settable: readonly string[]): OpSpec {
  return {
    arity: [2, 3],
    decode(a) {
      const cmd = command(a[1], 'command');
      if (cmd === IPC_SET) {
        if (a.length < 3) throw new ScenarioError('IPC_SET needs the fields to set');
        return [cInt(a[0], 'id'), cmd, decodeSetFields(a[2], settable, `${kind}_perm`)];
      }
      if (a.length > 2 && a[2] !== null) throw new ScenarioError(`${kind}ctl ${describe(a[1])} takes no third argument`);
      return [cInt(a[0], 'id'), cmd];
    },
  };
}

const SEMCTL_NO_ARG = new Set([GETVAL, GETPID, GETNCNT, GETZCNT, GETALL, IPC_STAT, IPC_RMID, IPC_INFO, SEM_INFO, SEM_STAT, SEM_STAT_ANY]);

function semctlArgs(a: readonly unknown[]): unknown[] {
  const head = [cInt(a[0], 'semid'), cInt(a[1], 'semnum')];
  const cmd = command(a[2], 'command');
  const arg = a[3];
  if (cmd === SETVAL) {
    if (a.length < 4) throw new ScenarioError('SETVAL needs a value');
    return [...head, cmd, cInt(arg, 'value')];
  }
  if (cmd === SETALL) {
    if (!Array.isArray(arg)) throw new ScenarioError('SETALL needs an array of values');
    // FORMAT.md: unsigned short, as in C: each value modulo 65536. The op checks the length against nsems.
    return [...head, cmd, arg.map((x) => Number(BigInt.asUintN(16, integer(x, 'value'))))];
  }
  if (cmd === IPC_SET) {
    if (a.length < 4) throw new ScenarioError('IPC_SET needs the fields to set');
    return [...head, cmd, decodeSetFields(arg, ['uid', 'gid', 'mode'], 'sem_perm')];
  }
  if (SEMCTL_NO_ARG.has(cmd)) {
    if (a.length > 3 && arg !== null) throw new ScenarioError(`semctl ${describe(a[2])} takes no fourth argument`);
    return [...head, cmd];
  }
  return a.length > 3 ? [...head, cmd, cLong(arg, 'argument')] : [...head, cmd];
}

function fcntlArgs(a: readonly unknown[]): unknown[] {
  const fd = cInt(a[0], 'fd');
  const cmd = command(a[1], 'fcntl command', ['F_']);
  const value = a[2];
  if (cmd === F_GETFL || cmd === F_GETPIPE_SZ || cmd === F_GETFD) {
    if (a.length > 2 && value !== null) throw new ScenarioError(`fcntl ${describe(a[1])} takes no value`);
    return [fd, cmd];
  }
  if ((cmd === F_SETFL || cmd === F_SETPIPE_SZ || cmd === F_SETFD) && (value === undefined || value === null)) {
    throw new ScenarioError(`fcntl ${describe(a[1])} needs a value`);
  }
  return [fd, cmd, cLong(value ?? 0, 'value')];
}

const MQ_ATTR_FIELDS = ['mq_flags', 'mq_maxmsg', 'mq_msgsize', 'mq_curmsgs'];

function mqAttr(v: unknown, what: string): Record<string, number | bigint> {
  if (!isRecord(v)) throw new ScenarioError(`${what} must be an object of mq_attr fields`);
  const out: Record<string, number | bigint> = {};
  for (const [k, x] of Object.entries(v)) {
    if (!MQ_ATTR_FIELDS.includes(k)) throw new ScenarioError(`unknown mq_attr field ${describe(k)}`);
    out[k] = cLong(x, k);
  }
  return out;
}

function mqOpenArgs(a: readonly unknown[], ctx: DecodeContext): unknown[] {
  const name = mqName(a[0], ctx.mqPrefix);
  const oflag = flags(opt(a, 1, 0), 'oflag');
  let rest = a.slice(2);
  let mode = 0o600;
  // FORMAT.md: the attributes may stand in the mode's place
  if (rest.length > 0 && !isRecord(rest[0])) {
    if (rest[0] !== null) mode = flags(rest[0], 'mode');
    rest = rest.slice(1);
  }
  const attr = rest.length > 0 && rest[0] !== null ? mqAttr(rest[0], 'mq_open attributes') : null;
  return [name, oflag, mode, attr];
}

function mqNotifyArgs(a: readonly unknown[]): unknown[] {
  const how = opt(a, 1, null);
  if (how === null) return [cInt(a[0], 'mqd'), null];
  const n = command(how, 'notification', ['SIGEV_']);
  // glibc runs SIGEV_THREAD itself (a netlink socket and a thread), which FORMAT.md does not model
  if (n === SIGEV_THREAD) throw new ScenarioError('mq_notify takes "SIGEV_SIGNAL", "SIGEV_NONE" or null, not SIGEV_THREAD');
  return [cInt(a[0], 'mqd'), n];
}

const prio = (v: unknown): number => Number(BigInt.asUintN(32, integer(v, 'priority')));

const OPS: Readonly<Record<string, OpSpec>> = {
  msgget: { arity: [1, 2], decode: (a, c) => [decodeKey(a[0], c.keyBase), flags(opt(a, 1, 0))] },
  msgsnd: {
    arity: [3, 4],
    decode: (a) => [cInt(a[0], 'msqid'), cLong(a[1], 'mtype'), decodeData(a[2]), flags(opt(a, 3, 0))],
  },
  msgrcv: {
    arity: [3, 4],
    decode: (a) => [cInt(a[0], 'msqid'), bufferSize(a[1], 'size'), cLong(a[2], 'msgtyp'), flags(opt(a, 3, 0))],
  },
  msgctl: ctl('msg', ['msg_qbytes', 'uid', 'gid', 'mode']),
  semget: { arity: [2, 3], decode: (a, c) => [decodeKey(a[0], c.keyBase), cInt(a[1], 'nsems'), flags(opt(a, 2, 0))] },
  semop: { arity: [2, 2], decode: (a) => [cInt(a[0], 'semid'), decodeSemOps(a[1])] },
  semtimedop: {
    arity: [3, 3],
    decode: (a) => [cInt(a[0], 'semid'), decodeSemOps(a[1]), decodeTimeout(a[2], true)],
    timeoutArg: 2,
  },
  semctl: { arity: [3, 4], decode: semctlArgs },
  shmget: { arity: [2, 3], decode: (a, c) => [decodeKey(a[0], c.keyBase), safeInt(a[1], 'size'), flags(opt(a, 2, 0))] },
  shmat: { arity: [1, 2], decode: (a) => [cInt(a[0], 'shmid'), flags(opt(a, 1, 0))] },
  // attachments are opaque handles the op itself gave out ("A:shm1"): passed as they are
  shmdt: { arity: [1, 1], decode: (a) => [a[0]] },
  shmwrite: { arity: [3, 3], decode: (a) => [a[0], safeInt(a[1], 'offset'), decodeData(a[2])] },
  shmread: { arity: [3, 3], decode: (a) => [a[0], safeInt(a[1], 'offset'), count(a[2], 'length')] },
  shmctl: ctl('shm', ['uid', 'gid', 'mode']),
  pipe: { arity: [0, 1], decode: (a) => [flags(opt(a, 0, 0))] },
  mkfifo: { arity: [2, 2], decode: (a, c) => [fsPath(a[0], c.dir), flags(a[1], 'mode')] },
  open: {
    arity: [1, 3],
    decode: (a, c) => [fsPath(a[0], c.dir), flags(opt(a, 1, 0)), a[2] === undefined || a[2] === null ? 0o666 : flags(a[2], 'mode')],
  },
  unlink: { arity: [1, 1], decode: (a, c) => [fsPath(a[0], c.dir)] },
  read: { arity: [2, 2], decode: (a) => [cInt(a[0], 'fd'), count(a[1], 'count')] },
  write: { arity: [2, 2], decode: (a) => [cInt(a[0], 'fd'), decodeData(a[1])] },
  close: { arity: [1, 1], decode: (a) => [cInt(a[0], 'fd')] },
  fcntl: { arity: [2, 3], decode: fcntlArgs },
  ioctl: { arity: [2, 2], decode: (a) => [cInt(a[0], 'fd'), command(a[1], 'ioctl request', ['FIO', 'SIOC', 'TIOC'])] },
  poll: {
    arity: [2, 3],
    decode: (a) => [cInt(a[0], 'fd'), Number(BigInt.asUintN(16, integer(a[1], 'events'))), cInt(opt(a, 2, 0), 'timeout')],
    timeoutArg: 2,
  },
  stat: { arity: [1, 1], decode: (a, c) => [fsPath(a[0], c.dir)] },
  socketpair: {
    arity: [2, 3],
    decode: (a) => [flags(a[0], 'domain'), flags(a[1], 'type'), cInt(opt(a, 2, 0), 'protocol')],
  },
  send: { arity: [2, 3], decode: (a) => [cInt(a[0], 'fd'), decodeData(a[1]), flags(opt(a, 2, 0))] },
  recv: { arity: [2, 3], decode: (a) => [cInt(a[0], 'fd'), count(a[1], 'count'), flags(opt(a, 2, 0))] },
  shutdown: { arity: [2, 2], decode: (a) => [cInt(a[0], 'fd'), flags(a[1], 'how')] },
  setsockopt: {
    arity: [3, 3],
    decode: (a) => [cInt(a[0], 'fd'), command(a[1], 'socket option', ['SO_']), cInt(a[2], 'value')],
  },
  getsockopt: { arity: [2, 2], decode: (a) => [cInt(a[0], 'fd'), command(a[1], 'socket option', ['SO_'])] },
  mq_open: { arity: [1, 4], decode: mqOpenArgs },
  mq_send: { arity: [3, 3], decode: (a) => [cInt(a[0], 'mqd'), decodeData(a[1]), prio(a[2])] },
  mq_timedsend: {
    arity: [4, 4],
    decode: (a) => [cInt(a[0], 'mqd'), decodeData(a[1]), prio(a[2]), decodeTimeout(a[3], false)],
    timeoutArg: 3,
    absoluteTimeout: true,
  },
  mq_receive: { arity: [2, 2], decode: (a) => [cInt(a[0], 'mqd'), count(a[1], 'size')] },
  mq_timedreceive: {
    arity: [3, 3],
    decode: (a) => [cInt(a[0], 'mqd'), count(a[1], 'size'), decodeTimeout(a[2], false)],
    timeoutArg: 2,
    absoluteTimeout: true,
  },
  mq_getattr: { arity: [1, 1], decode: (a) => [cInt(a[0], 'mqd')] },
  mq_setattr: { arity: [2, 2], decode: (a) => [cInt(a[0], 'mqd'), mqAttr(a[1], 'mq_setattr attributes')] },
  mq_notify: { arity: [1, 2], decode: mqNotifyArgs },
  notified: { arity: [1, 1], decode: (a) => [cInt(a[0], 'mqd')] },
  mq_close: { arity: [1, 1], decode: (a) => [cInt(a[0], 'mqd')] },
  mq_unlink: { arity: [1, 1], decode: (a, c) => [mqName(a[0], c.mqPrefix)] },
};

/** Every operation FORMAT.md defines. */
export const KNOWN_OPS: ReadonlySet<string> = new Set(Object.keys(OPS));

/** Operations that return a pair, named with `"as": ["r", "w"]`. */
export const PAIR_OPS: ReadonlySet<string> = new Set(['pipe', 'socketpair']);

/** Checks an operation name and its argument count (a static check, before any value is known). */
export function checkArity(op: string, nargs: number): void {
  const spec = OPS[op];
  if (spec === undefined) throw new ScenarioError(`unknown operation ${describe(op)}`);
  const [lo, hi] = spec.arity;
  if (nargs < lo || nargs > hi) {
    throw new ScenarioError(`${op} expects ${lo === hi ? lo : `${lo} to ${hi}`} arguments, got ${nargs}`);
  }
}

/** Decodes a call's resolved arguments. */
export function decodeCall(op: string, args: readonly unknown[], ctx: DecodeContext): unknown[] {
  checkArity(op, args.length);
  return OPS[op]!.decode(args, ctx);
}

/** How long the call's own timeout may keep it asleep (ms), on top of the runner's wait. */
export function ownTimeoutMs(op: string, decoded: readonly unknown[]): number {
  const spec = OPS[op];
  if (spec?.timeoutArg === undefined) return 0;
  return timeoutAllowance(decoded[spec.timeoutArg] as Timeout | null | undefined, spec.absoluteTimeout === true);
}

/** Whether the call's whole result is a pid (semctl GETPID), shown as "$pid:A" in reports. */
export function resultIsPid(op: string, decoded: readonly unknown[]): boolean {
  return op === 'semctl' && decoded[2] === GETPID;
}
