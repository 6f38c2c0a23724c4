/**
 * The operation generator: one episode of random message-queue operations,
 * produced one step at a time from a seeded Rng and what the kernel (the
 * reference backend) answered so far.
 *
 * It only ever looks at answers both backends must agree on (which queue a
 * msgget named, success or failure, whether a call is still asleep): a run
 * stops at the first divergence, so with the same seed and the same answers
 * it produces the same steps, whichever backend answered.
 *
 * What it aims at: a few small keys and IPC_PRIVATE; actors of several
 * uids; sizes and types at the limits (msgmax ± 1, msgmnb, mtype 0, negative,
 * 2^31, 2^63 - 1, LONG_MIN); every msgrcv mode and flag; every msgctl
 * command, unknown ones included; ids of removed queues and ids no queue can
 * have. Mostly IPC_NOWAIT; now and then a call that may sleep, never more
 * than `maxPending` asleep at once.
 *
 * It keeps away from the states whose outcome the kernel leaves to its
 * scheduler, where no answer is the right one: two senders asleep on one
 * queue (ipc/msg.c: ss_wakeup() wakes every sender that fits, and they race
 * for the room and for msg_lspid), and IPC_SET on a queue with two or more
 * calls asleep (msgctl_down() wakes the receivers with -EAGAIN and they
 * queue up again in the order they run; a sender it wakes may hand its
 * message to a receiver before or after that receiver re-checks its
 * permission). One sleeper per event stays exact on both backends.
 *
 * Semaphore sets (kinds 'sem'): sizes 0..4 and at semmsl ± 1; semop arrays
 * of 1-4 ops with duplicates, values at SEMVMX and SHRT_MIN, sem_num past the
 * end, IPC_NOWAIT and SEM_UNDO; every semctl command. At most one semop
 * asleep per set (update_queue() order is exact in the kernel, but the fuzzer
 * observes threads, not wake-up order). Actors never exit mid-episode, so
 * SEM_UNDO adjustments are recorded but never applied: exits are not fuzzed.
 *
 * It closes the episode by removing every
 * queue still there (its creator may always do so: ipc/util.c:
 * ipcctl_obtain_check() lets cuid in), which ends every sleeping call.
 */

import { FdGenerator } from './generate-fd.js';
import type { Rng } from './prng.js';
import { isGet, kindOf, queueName, queueRef, type FuzzActor, type FuzzKind, type FuzzStep, type CallFuzzStep } from './trace.js';

/** What the reference backend answered to a step, as far as the generator may look. */
export interface Observation {
  /**
   * The step's own call (absent for an interrupt): asleep, or ended; `value`
   * is its normalized answer when it succeeded (descriptors as "$r5" names).
   */
  own?: { pending: true } | { pending: false; ok: boolean; /** For a msgget that succeeded: the queue it named. */ queue?: string; value?: unknown };
  /** Step numbers of earlier calls that ended during this step. */
  ended: readonly number[];
  /** The answers of those that succeeded, by step number. */
  values?: ReadonlyMap<number, unknown>;
}

export interface GeneratorOptions {
  actors: readonly FuzzActor[];
  /** The sysctls both backends run with. */
  limits: { msgmax: number; msgmnb: number };
  /** Steps in the episode, its closing removals included (they may run a little over when one fails). */
  ops: number;
  /** At most this many calls asleep at once (default 3). */
  maxPending?: number;
  /** Small keys 1..keys in use (default 4). */
  keys?: number;
  /** At most this many queues alive at once (default 6). */
  maxQueues?: number;
  /** Generate MSG_COPY receives (default true; false where the kernel lacks CONFIG_CHECKPOINT_RESTORE). */
  msgCopy?: boolean;
  /**
   * Fork actors that hold pipe or socket ends, use the ends from both, and
   * exit the children (default false).
   */
  forks?: boolean;
  /** The object kinds to generate (default both). */
  kinds?: readonly FuzzKind[];
}

interface QueueInfo {
  name: string;
  kind: FuzzKind;
  /** A semaphore set's size (0 for a queue). */
  nsems: number;
  creator: string;
  live: boolean;
  /** Removal attempts during the closing that failed. */
  failedRemovals: number;
}

const LONG_MAX = (1n << 63n) - 1n;
const LONG_MIN = -(1n << 63n);
/** Ids no queue has: negative ones, and ones at index 32767, which a machine never reaches in practice. */
const BAD_IDS = [-1, -2147483648, 0x7fff, 0x7fffffff, 0x12347fff];
/** Unknown msgctl commands (IPC_64 | IPC_STAT included: glibc's msgctl ORs IPC_64 itself only on some ABIs). */
const UNKNOWN_COMMANDS = [4, 5, 10, 14, 15, 100, -1, 0x102, 0x7fffffff];
const MODES = [0o600, 0o600, 0o666, 0o644, 0o640, 0o660, 0o604, 0o606, 0o400, 0o200, 0o000, 0o700, 0o070, 0o007, 0o777, 0o444, 0o222];
const REQUESTED_MODES = [0, 0, 0o400, 0o200, 0o600, 0o040, 0o004, 0o060, 0o666];
const UIDS = [0, 1000, 1001, 1002, 65534, -1];
const PRINTABLE = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.';

export function octal(mode: number): string {
  return '0' + mode.toString(8).padStart(3, '0');
}

export class Generator {
  private n = 0;
  private closing = false;
  private readonly queues: QueueInfo[] = [];
  /** Calls asleep on the reference: step number → the op and the queue it names. */
  private readonly pending = new Map<number, { op: string; queue: unknown }>();
  private readonly maxPending: number;
  private readonly keys: number;
  private readonly maxQueues: number;
  private readonly msgCopy: boolean;
  private readonly kinds: ReadonlySet<FuzzKind>;
  /** Pipes and socketpairs, when those kinds are asked for. */
  private readonly fd: FdGenerator | undefined;

  constructor(private readonly rng: Rng, private readonly opts: GeneratorOptions) {
    if (opts.actors.length === 0) throw new RangeError('the generator needs at least one actor');
    this.maxPending = opts.maxPending ?? 3;
    this.keys = opts.keys ?? 4;
    this.maxQueues = opts.maxQueues ?? 6;
    this.msgCopy = opts.msgCopy ?? true;
    this.kinds = new Set(opts.kinds ?? ['msg', 'sem']);
    if (this.kinds.size === 0) throw new RangeError('the generator needs at least one kind');
    const pipes = this.kinds.has('pipe');
    const sockets = this.kinds.has('socket');
    this.fd = pipes || sockets ? new FdGenerator(rng, { pipes, sockets, forks: opts.forks === true, data: (n) => this.data(n) }) : undefined;
  }

  /** The next step, or undefined once the episode has closed. */
  next(): FuzzStep | undefined {
    const live = this.live();
    if (!this.closing && this.n + live.length + (this.fd?.closingCount() ?? 0) >= this.opts.ops) this.closing = true;
    if (this.closing) return this.closingStep();
    this.n++;
    const r = this.rng;
    const m = this.kinds.has('msg') ? 1 : 0;
    const sm = this.kinds.has('sem') ? 1 : 0;
    const getWeight = (k: FuzzKind): number => {
      const n = live.filter((q) => q.kind === k).length;
      return n === 0 ? 40 : live.length < this.maxQueues ? 10 : 3;
    };
    const kinds: Array<readonly [string, number]> = [
      ['msgget', m * getWeight('msg')],
      ['msgsnd', m * 30],
      ['msgrcv', m * 30],
      ['msgctl', m * 25],
      ['semget', sm * getWeight('sem')],
      ['semop', sm * 45],
      ['semctl', sm * 40],
      ['interrupt', this.pending.size > 0 ? 0.7 : 0],
      ...(this.fd?.weights(this.pending.size < this.maxPending) ?? []),
    ];
    const choice = r.weighted(kinds);
    if (this.fd !== undefined && (choice === 'pipe' || choice === 'socketpair' || choice.startsWith('fd-'))) {
      return this.fd.step(choice, this.n, this.pending.size < this.maxPending, r.pick(this.opts.actors).name);
    }
    switch (choice) {
      case 'msgget':
        return this.call('msgget', this.msggetArgs(live.length));
      case 'msgsnd':
        return this.call('msgsnd', this.msgsndArgs());
      case 'msgrcv':
        return this.call('msgrcv', this.msgrcvArgs());
      case 'msgctl':
        return this.call('msgctl', this.msgctlArgs());
      case 'semget':
        return this.call('semget', this.semgetArgs(live.length));
      case 'semop':
        return this.call('semop', this.semopArgs());
      case 'semctl':
        return this.call('semctl', this.semctlArgs());
      default: {
        const target = r.pick([...this.pending.keys()]);
        // SA_RESTART matters only to descriptor calls (SysV calls fail with EINTR either way)
        return this.fd?.owns(target) === true ? { kind: 'interrupt', n: this.n, target, restart: r.chance(0.5) } : { kind: 'interrupt', n: this.n, target };
      }
    }
  }

  /** Takes in what the reference answered to `step`. */
  observe(step: FuzzStep, obs: Observation): void {
    for (const m of obs.ended) this.pending.delete(m);
    this.fd?.observe(step, obs.own, obs.values ?? new Map(), obs.ended);
    if (step.kind !== 'call' || obs.own === undefined) return;
    if (obs.own.pending) {
      this.pending.set(step.n, { op: step.op, queue: step.args[0] });
      return;
    }
    if (isGet(step.op) && obs.own.ok && obs.own.queue === queueName(step.n)) {
      const nsems = step.op === 'semget' ? (step.args[1] as number) : 0;
      this.queues.push({ name: obs.own.queue, kind: kindOf(step.op), nsems, creator: step.by, live: true, failedRemovals: 0 });
    }
    if ((step.op === 'msgctl' && step.args[1] === 'IPC_RMID') || (step.op === 'semctl' && step.args[2] === 'IPC_RMID')) {
      const q = this.queue(step.args[0]);
      if (q !== undefined && obs.own.ok) q.live = false;
      else if (q !== undefined && this.closing) q.failedRemovals++;
    }
  }

  private queue(ref: unknown): QueueInfo | undefined {
    const n = queueRef(ref);
    return n === undefined ? undefined : this.queues.find((q) => q.name === queueName(n));
  }

  private live(): QueueInfo[] {
    return this.queues.filter((q) => q.live);
  }

  private call(op: CallFuzzStep['op'], args: unknown[]): CallFuzzStep {
    return { kind: 'call', n: this.n, by: this.rng.pick(this.opts.actors).name, op, args };
  }

  /** Removes each queue left: by its creator, then by a root actor; a queue neither can remove is left to the lane's clean-up. */
  private closingStep(): FuzzStep | undefined {
    const fdStep = this.fd?.closingStep(this.n + 1, (m) => this.pending.has(m));
    if (fdStep !== undefined) {
      this.n++;
      return fdStep;
    }
    const roots = this.opts.actors.filter((a) => a.uid === 0);
    for (const q of this.live()) {
      const by = q.failedRemovals === 0 ? q.creator : roots[q.failedRemovals - 1]?.name;
      if (by === undefined) continue;
      this.n++;
      if (q.kind === 'sem') return { kind: 'call', n: this.n, by, op: 'semctl', args: ['$' + q.name, 0, 'IPC_RMID'] };
      return { kind: 'call', n: this.n, by, op: 'msgctl', args: ['$' + q.name, 'IPC_RMID'] };
    }
    return undefined;
  }

  /** An id: mostly a live object of `kind`, sometimes a removed one, one of the other kind, or one nothing has. */
  private target(liveOnly = false, kind: FuzzKind = 'msg'): unknown {
    const r = this.rng;
    // another kind's id is just a number to this call (its own id space): EINVAL or some object of its kind
    const live = this.live().filter((q) => q.kind === kind);
    const stale = this.queues.filter((q) => !q.live && q.kind === kind);
    if (live.length > 0 && (liveOnly || r.chance(0.86))) return '$' + r.pick(live).name;
    if (!liveOnly && stale.length > 0 && r.chance(0.5)) return '$' + r.pick(stale).name;
    return r.pick(BAD_IDS);
  }

  /** Whether a call that may sleep can be added now. */
  private mayBlock(p: number): boolean {
    return this.pending.size < this.maxPending && this.rng.chance(p);
  }

  /** Often the queue a call of `op` sleeps on, so that sleepers get woken by what they wait for; else target(). */
  private wakeTarget(op: string): unknown {
    const sleepers = [...this.pending.values()].filter((c) => c.op === op);
    return sleepers.length > 0 && this.rng.chance(0.5) ? this.rng.pick(sleepers).queue : this.target();
  }

  /** Calls asleep on a queue (by op, or all). */
  private asleepOn(queue: unknown, op?: string): number {
    let n = 0;
    for (const c of this.pending.values()) if (c.queue === queue && (op === undefined || c.op === op)) n++;
    return n;
  }

  private msggetArgs(liveCount: number): unknown[] {
    const r = this.rng;
    const room = liveCount < this.maxQueues;
    const key: unknown = room && r.chance(0.12) ? 'IPC_PRIVATE' : 1 + r.below(this.keys);
    const parts: string[] = [];
    if (room && r.chance(0.55)) {
      parts.push('IPC_CREAT');
      if (r.chance(0.3)) parts.push('IPC_EXCL');
      parts.push(octal(r.pick(MODES)));
    } else {
      if (r.chance(0.1)) parts.push('IPC_EXCL');
      parts.push(octal(r.pick(REQUESTED_MODES)));
    }
    return [key, parts.join('|')];
  }

  private msgsndArgs(): unknown[] {
    const r = this.rng;
    const { msgmax, msgmnb } = this.opts.limits;
    const mtype = r.weighted<() => number | bigint>([
      [() => 1 + r.below(5), 70],
      [() => r.pick([7, 100, 2 ** 31 - 1, 2 ** 31, 2 ** 32 + 1]), 12],
      [() => r.pick([(1n << 53n) + 1n, LONG_MAX]), 5],
      [() => r.pick<number | bigint>([0, -1, -5, LONG_MIN]), 8],
    ])();
    const size = r.weighted<() => number>([
      [() => 0, 6],
      [() => 1 + r.below(8), 22],
      [() => 9 + r.below(55), 10],
      [() => 64 + r.below(937), 18],
      [() => 1000 + r.below(msgmax - 1000), 8],
      [() => r.pick([4095, 4096]), 4],
      [() => msgmax - 1, 5],
      [() => msgmax, 9],
      [() => msgmax + 1, 4],
      [() => r.pick([msgmnb, msgmnb + 1]), 2],
    ])();
    const q = this.wakeTarget('msgrcv');
    // a second sender asleep on the same queue would race the first (see the header)
    const wait = this.asleepOn(q, 'msgsnd') === 0 && this.mayBlock(0.1);
    return [q, mtype, this.data(size), wait ? 0 : r.chance(0.05) ? 'IPC_NOWAIT|MSG_NOERROR' : 'IPC_NOWAIT'];
  }

  private msgrcvArgs(): unknown[] {
    const r = this.rng;
    const { msgmax } = this.opts.limits;
    const mode = r.weighted<string>([
      ['', 60],
      ['MSG_NOERROR', 10],
      ['MSG_EXCEPT', 10],
      ['MSG_EXCEPT|MSG_NOERROR', 3],
      ['MSG_COPY', this.msgCopy ? 8 : 0],
      ['MSG_COPY|MSG_NOERROR', this.msgCopy ? 2 : 0],
      ['MSG_COPY|MSG_EXCEPT', this.msgCopy ? 1 : 0],
    ]);
    const copy = mode.startsWith('MSG_COPY');
    // MSG_COPY without IPC_NOWAIT is EINVAL at once (ipc/msg.c: do_msgrcv()), so it never sleeps
    const wait = copy ? r.chance(0.03) : this.mayBlock(0.1);
    const flags = [wait ? '' : 'IPC_NOWAIT', mode].filter((s) => s !== '').join('|') || 0;
    const msgtyp = copy
      ? r.pick<number | bigint>([0, 0, 0, 1, 1, 2, 3, -1, 100])
      : r.weighted<() => number | bigint>([
          [() => 0, 30],
          [() => 1 + r.below(5), 30],
          [() => -(1 + r.below(5)), 20],
          [() => r.pick<number | bigint>([7, 100, 2 ** 31, -(2 ** 31), -100, LONG_MAX, LONG_MIN, -LONG_MAX]), 10],
        ])();
    const size = r.weighted<() => number>([
      [() => -1, 2],
      [() => 0, 4],
      [() => 1 + r.below(8), 15],
      [() => 9 + r.below(56), 10],
      [() => 65 + r.below(936), 10],
      [() => 1000 + r.below(msgmax - 1000), 10],
      [() => 4096, 4],
      [() => msgmax - 1, 5],
      [() => msgmax, 16],
      [() => msgmax + 1, 5],
      [() => 65536, 4],
    ])();
    return [this.wakeTarget('msgsnd'), size, msgtyp, flags];
  }

  private msgctlArgs(): unknown[] {
    const r = this.rng;
    const { msgmax, msgmnb } = this.opts.limits;
    const cmd = r.weighted<string>([
      ['IPC_STAT', 30],
      ['IPC_SET', 18],
      ['IPC_RMID', 7],
      ['IPC_INFO', 4],
      ['MSG_INFO', 4],
      ['MSG_STAT', 10],
      ['MSG_STAT_ANY', 8],
      ['unknown', 4],
    ]);
    switch (cmd) {
      case 'IPC_SET': {
        const q = this.target();
        // with two calls asleep on it, what IPC_SET wakes races (see the header)
        if (this.asleepOn(q) > 1) return [q, 'IPC_STAT'];
        const fields: Record<string, unknown> = {};
        if (r.chance(0.55)) fields.msg_qbytes = r.pick([0, 1, 7, 64, 100, 1000, msgmax, msgmnb - 1, msgmnb, msgmnb, msgmnb + 1, 2 * msgmnb]);
        if (r.chance(0.5)) fields.mode = octal(r.chance(0.85) ? r.pick(MODES) : r.below(0o10000));
        if (r.chance(0.25)) fields.uid = r.pick(UIDS);
        if (r.chance(0.25)) fields.gid = r.pick(UIDS);
        return [q, 'IPC_SET', fields];
      }
      case 'IPC_INFO':
      case 'MSG_INFO':
        // the id is not looked up, only checked for < 0 (ipc/msg.c: ksys_msgctl())
        return [r.weighted<() => unknown>([[() => 0, 4], [() => this.target(), 4], [() => -1, 1]])(), cmd];
      case 'MSG_STAT':
      case 'MSG_STAT_ANY':
        // only live queues or impossible indexes: a removed queue's index may hold anyone's queue on a shared kernel
        return [this.live().length > 0 && r.chance(0.9) ? this.target(true) : r.pick([-1, 0x7fff]), cmd];
      case 'unknown':
        return [this.target(), r.pick(UNKNOWN_COMMANDS)];
      default:
        return [this.target(), cmd];
    }
  }

  /** A semaphore set's size where it is known (a live or removed set), else 1. */
  private nsemsOf(ref: unknown): number {
    return this.queue(ref)?.nsems ?? 1;
  }

  private semgetArgs(liveCount: number): unknown[] {
    const r = this.rng;
    const [key, flags] = this.msggetArgs(liveCount);
    const creating = typeof flags === 'string' && flags.includes('IPC_CREAT');
    // semmsl is 32000 (sem.c: newary() checks nsems against it; 0 only finds an existing set)
    const nsems = r.weighted<() => number>([
      [() => 1 + r.below(4), creating ? 70 : 30],
      [() => 0, creating ? 6 : 40],
      [() => r.pick([5, 8, 16]), 8],
      [() => r.pick([32000, 32001, -1, 65536]), creating ? 3 : 6],
    ])();
    return [key, nsems, flags];
  }

  /** A sem_num: mostly in range, sometimes just past the end or at the 16-bit limit. */
  private semNum(nsems: number): number {
    const r = this.rng;
    return r.chance(0.93) ? r.below(Math.min(Math.max(nsems, 1), 8)) : r.pick([nsems, nsems + 1, 0xffff]);
  }

  private semopArgs(): unknown[] {
    const r = this.rng;
    const s = this.semTarget('semop');
    const nsems = this.nsemsOf(s);
    const count = r.weighted<number>([[1, 55], [2, 25], [3, 12], [4, 8]]);
    // one blocking call per set: two sleepers' order would still be exact (sem.c: update_queue()), but a later
    // op may be tried before or after an earlier sleeper re-checks on native, which wakes threads, not steps
    const wait = this.asleepOn(s) === 0 && this.mayBlock(0.12);
    const sops: unknown[] = [];
    let first = this.semNum(nsems);
    for (let i = 0; i < count; i++) {
      // duplicates on one semaphore apply in sequence (sem.c: perform_atomic_semop())
      const num = i > 0 && r.chance(0.35) ? first : this.semNum(nsems);
      if (i === 0) first = num;
      const op = r.weighted<() => number>([
        [() => 1 + r.below(3), 35],
        [() => -(1 + r.below(3)), 35],
        [() => 0, 15],
        [() => r.pick([32767, -32767, -32768, 32766, 16384]), 8],
      ])();
      const flags = [wait ? '' : 'IPC_NOWAIT', r.chance(0.25) ? 'SEM_UNDO' : ''].filter((f) => f !== '').join('|');
      sops.push(flags === '' ? [num, op] : [num, op, flags]);
    }
    return [s, sops];
  }

  /** A set id: often the one a semop sleeps on, so that it gets woken; else a target of kind sem. */
  private semTarget(op: string): unknown {
    const sleepers = [...this.pending.values()].filter((c) => c.op === op);
    return sleepers.length > 0 && this.rng.chance(0.5) ? this.rng.pick(sleepers).queue : this.target(false, 'sem');
  }

  private semctlArgs(): unknown[] {
    const r = this.rng;
    const cmd = r.weighted<string>([
      ['GETVAL', 14], ['SETVAL', 16], ['GETALL', 10], ['SETALL', 8], ['GETPID', 8], ['GETNCNT', 6], ['GETZCNT', 6],
      ['IPC_STAT', 10], ['IPC_SET', 6], ['IPC_RMID', 4], ['IPC_INFO', 2], ['SEM_INFO', 2], ['SEM_STAT_ANY', 4], ['SEM_STAT', 3],
    ]);
    const s = cmd === 'SETVAL' || cmd === 'SETALL' ? this.semTarget('semop') : this.target(false, 'sem');
    const nsems = this.nsemsOf(s);
    const value = (): number => r.weighted<() => number>([
      [() => r.below(4), 70], [() => r.pick([32767, 32766]), 12], [() => r.pick([32768, -1, 65535]), 6],
    ])();
    switch (cmd) {
      case 'SETVAL':
        return [s, this.semNum(nsems), cmd, value()];
      case 'SETALL':
        // the array must hold exactly nsems values (FORMAT.md); big sets get SETVAL instead
        if (nsems > 16) return [s, this.semNum(nsems), 'SETVAL', value()];
        return [s, 0, cmd, Array.from({ length: nsems }, value)];
      case 'GETVAL':
      case 'GETPID':
      case 'GETNCNT':
      case 'GETZCNT':
        return [s, this.semNum(nsems), cmd];
      case 'GETALL':
        return [nsems > 16 ? this.target(false, 'sem') : s, 0, cmd];
      case 'IPC_SET': {
        const fields: Record<string, unknown> = {};
        if (r.chance(0.6)) fields.mode = octal(r.chance(0.85) ? r.pick(MODES) : r.below(0o10000));
        if (r.chance(0.25)) fields.uid = r.pick(UIDS);
        if (r.chance(0.25)) fields.gid = r.pick(UIDS);
        return [s, 0, cmd, fields];
      }
      case 'IPC_INFO':
      case 'SEM_INFO':
        return [r.pick<unknown>([0, 0, -1, s]), 0, cmd];
      case 'SEM_STAT':
      case 'SEM_STAT_ANY': {
        // only live sets or impossible indexes: a removed set's index may hold anyone's set on a shared kernel
        const live = this.live().some((q) => q.kind === 'sem');
        return [live && r.chance(0.9) ? this.target(true, 'sem') : r.pick([-1, 0x7fff]), 0, cmd];
      }
      default:
        return [s, 0, cmd];
    }
  }

  /** Message text: random bytes when short; above 64 bytes a repeated random unit, which a scenario writes as { repeat, count }. */
  private data(size: number): Uint8Array {
    const r = this.rng;
    if (size < 64) return r.bytes(size);
    const unit = Array.from({ length: 1 + r.below(13) }, () => r.pick([...PRINTABLE])).join('');
    const out = new Uint8Array(size);
    for (let i = 0; i < size; i++) out[i] = unit.charCodeAt(i % unit.length);
    return out;
  }
}
