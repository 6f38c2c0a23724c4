/**
 * A lane: one backend running a fuzz trace through the conformance runner's
 * own machinery — its Driver (EmuDriver, NativeDriver, or a test's), its
 * value decoding (decode.ts) — plus what the fuzzer keeps per backend: the
 * id each queue symbol stands for, and which actor each pid or thread id
 * belongs to.
 *
 * A LaneKind makes started drivers and takes them back. The emulator's are
 * fresh kernels each time (cheap). The native one keeps its actor agents
 * between runs, since starting processes is what a run would otherwise
 * spend its time on; taking a driver back removes every queue the run
 * created (from this process: root, as the driver's own close() does) and
 * waits for every call still asleep to end with EIDRM.
 */

import { readdirSync, readFileSync } from 'node:fs';
import { IPC_NOWAIT, IPC_RMID } from '../constants.js';
import type { SemBuf } from '../api.js';
import { decodeCall } from '../conformance/decode.js';
import type { ActorSpec, CallHandle, Driver, DriverOptions, Outcome } from '../conformance/driver.js';
import type { EmuDriverOptions } from '../conformance/emu-driver.js';
import { resolveRefs } from '../conformance/values.js';
import { ERRNO, IpcError } from '../errors.js';
import { normalizeOutcome, type CallState, type NormContext } from './normalize.js';
import { isGet, isPair, kindOf, pairNames, queueName, type CallFuzzStep, type FuzzKind } from './trace.js';

/** Descriptor calls that sleep on a description without O_NONBLOCK. */
const BLOCKING_FD_OPS = new Set(['read', 'write', 'send', 'recv']);
/** Descriptor calls that may be left asleep when a run stops early. */
const FD_OPS = new Set([...BLOCKING_FD_OPS, 'open', 'poll']);

/** A backend failed (an agent died, a call that cannot sleep never answered): nothing can be compared. */
export class LaneFailure extends Error {
  override readonly name = 'LaneFailure';
}

/** A step that cannot run in this subsequence (minimization): it names a queue no earlier step bound. */
export class UnboundName extends Error {
  override readonly name = 'UnboundName';
}

export interface LaneKind {
  /** For reports: "emu", "native", "emu (second kernel)". */
  readonly label: string;
  /** A started driver for these actors, with no queue left from an earlier run. */
  acquire(actors: Record<string, ActorSpec>, options: DriverOptions): Promise<Driver>;
  /**
   * Ends a run on `driver`: every queue in `ids` removed, every call in
   * `pending` ended; the kind may keep the driver. `made` is how many calls
   * the run made.
   */
  release(driver: Driver, ids: readonly CreatedId[], pending: readonly CallHandle[], made: number, forked?: boolean): Promise<void>;
  /** Threads of a process where the backend runs real ones (native), to map a thread id to its actor. */
  threadsOf?(pid: number): readonly number[];
  /** Answers a `requires` word the backend finds out for itself (Driver.probe: `msg_copy`). */
  probe?(word: string): Promise<boolean | undefined>;
  /** Ends whatever the kind keeps. */
  close(): Promise<void>;
}

/** An id a run's msgget or semget answered, with its kind (msg and sem ids are separate spaces). */
export interface CreatedId {
  kind: FuzzKind;
  id: number;
}

/** How long a call that cannot sleep may take to answer (native round trips), and a clean-up may take. */
const ANSWER_MS = 10_000;
/**
 * The NativeDriver keeps every call it was given and looks through them all
 * on each settle(): after this many, the lane starts fresh agents.
 */
const RECYCLE_CALLS = 10_000;
/** A call that may sleep: how long to look for a quick answer before asking the driver to settle. */
const QUICK_MS = 2;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function within(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<false>((r) => {
    timer = setTimeout(() => r(false), ms);
  });
  try {
    return await Promise.race([p.then(() => true), t]);
  } finally {
    clearTimeout(timer);
  }
}

interface LaneCall {
  step: CallFuzzStep;
  decoded: unknown[];
  handle: CallHandle;
  /** Normalized once: a msgget binds its symbol when normalized. */
  state?: CallState;
}

/** One backend's side of one run of a trace. */
export class LaneRun implements NormContext {
  private readonly ids = new Map<string, number>();
  /** "msg:5" / "sem:5" → symbol. */
  private readonly symbols = new Map<string, string>();
  private readonly calls = new Map<number, LaneCall>();
  /** Whether a fork step ran: the actors are then no longer the cast a kept driver was started with. */
  forked = false;
  /** Actors an exit step ended. */
  private readonly exited = new Set<string>();
  /** Descriptor number → the name of the newest pipe or socketpair end that got it. */
  private readonly fdSymbols = new Map<number, string>();
  private readonly tids = new Map<number, string>();
  /** Every id a msgget answered, recorded as the answer arrives (whatever the run does next): removed when the run ends. */
  private readonly answered = new Map<string, CreatedId>();

  constructor(
    readonly kind: LaneKind,
    readonly driver: Driver,
    private readonly actors: string[],
    private readonly options: DriverOptions,
  ) {}

  get keyBase(): number {
    return this.options.keyBase;
  }

  fdSymbol(fd: number): string | undefined {
    const s = this.fdSymbols.get(fd);
    return s === undefined ? undefined : '$' + s;
  }

  symbolOf(id: number, kind: FuzzKind = 'msg'): string | undefined {
    const s = this.symbols.get(`${kind}:${id}`);
    return s === undefined ? undefined : '$' + s;
  }

  pidName(pid: number): string {
    for (const a of this.actors) if (this.driver.pid(a) === pid) return `$pid:${a}`;
    let owner = this.tids.get(pid);
    if (owner === undefined && this.kind.threadsOf !== undefined) {
      this.captureThreads(this.actors);
      owner = this.tids.get(pid);
    }
    return owner === undefined ? `$pid:?${pid}` : `$tid:${owner}`;
  }

  /** Records the threads of these actors (while a call sleeps, its thread is among them). */
  private captureThreads(actors: Iterable<string>): void {
    if (this.kind.threadsOf === undefined) return;
    for (const a of actors) {
      const pid = this.driver.pid(a);
      for (const tid of this.kind.threadsOf(pid)) if (tid !== pid) this.tids.set(tid, a);
    }
  }

  /** Starts a call step; an unbound "$q<n>" is UnboundName. Returns whether the call may sleep. */
  start(step: CallFuzzStep): boolean {
    const args = resolveRefs(step.args, (ref) => {
      const id = this.ids.get(ref);
      if (id === undefined) throw new UnboundName(`step ${step.n} names $${ref}, which no earlier step bound`);
      return id;
    }) as unknown[];
    const decoded = decodeCall(step.op, args, { keyBase: this.options.keyBase, mqPrefix: this.options.mqPrefix, dir: this.options.dir });
    const handle = this.driver.call(step.by, step.op, decoded);
    this.calls.set(step.n, { step, decoded, handle });
    if (isGet(step.op)) {
      const kind = kindOf(step.op);
      void handle.done.then((o) => {
        if (o.ok && typeof o.value === 'number') this.answered.set(`${kind}:${o.value}`, { kind, id: o.value });
      });
    }
    if (step.op === 'semop') return (decoded[1] as SemBuf[]).some((b) => ((b[2] ?? 0) & IPC_NOWAIT) === 0);
    // descriptor calls: whether they may sleep depends on the description's O_NONBLOCK, which only the kernel knows
    if (BLOCKING_FD_OPS.has(step.op)) return true;
    return (step.op === 'msgsnd' || step.op === 'msgrcv') && ((decoded[3] as number) & IPC_NOWAIT) === 0;
  }

  /**
   * Waits until the call just started has answered or sleeps, and every
   * other call has answered or sleeps again. The emulator knows exactly
   * (settle()); on the kernel, a call that cannot sleep is awaited, and one
   * that may is given a moment to answer before the driver's settle window.
   */
  async settleAfter(n: number, mayBlock: boolean): Promise<void> {
    const call = this.calls.get(n)!;
    if (!this.driver.settlesExactly) {
      if (!mayBlock) {
        if (!(await within(call.handle.done, ANSWER_MS))) {
          throw new LaneFailure(`${this.kind.label}: ${call.step.op} (step ${n}) cannot sleep but did not answer within ${ANSWER_MS / 1000} s`);
        }
      } else {
        await Promise.race([call.handle.done, sleep(QUICK_MS)]);
      }
    }
    await this.settle();
    if (call.handle.outcome === undefined) this.captureThreads([call.step.by]);
  }

  async settle(): Promise<void> {
    try {
      await this.driver.settle();
    } catch (e) {
      throw new LaneFailure(`${this.kind.label}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  /** Whether the call of step n is asleep here (false: it answered, or there is no such call). */
  asleep(n: number): boolean {
    const c = this.calls.get(n);
    return c !== undefined && c.handle.outcome === undefined;
  }

  /** A fork step: `child` starts as a fork of `parent` (its descriptors copied), on this backend. */
  async fork(parent: string, child: string): Promise<void> {
    try {
      await this.driver.fork(parent, child);
    } catch (e) {
      throw new LaneFailure(`${this.kind.label}: fork of ${parent}: ${e instanceof Error ? e.message : String(e)}`);
    }
    this.actors.push(child);
    this.forked = true;
    await this.settle();
  }

  /** An exit step: the actor's descriptors close; its calls still asleep are abandoned (the generator leaves none). */
  async exit(actor: string): Promise<void> {
    try {
      await this.driver.exit(actor);
    } catch (e) {
      throw new LaneFailure(`${this.kind.label}: exit of ${actor}: ${e instanceof Error ? e.message : String(e)}`);
    }
    this.exited.add(actor);
    await this.settle();
  }

  async interrupt(n: number, restart = false): Promise<void> {
    const c = this.calls.get(n)!;
    try {
      await this.driver.interrupt(c.handle, restart);
    } catch (e) {
      throw new LaneFailure(`${this.kind.label}: interrupting step ${n}: ${e instanceof Error ? e.message : String(e)}`);
    }
    await this.settle();
  }

  /** The state of the call of step n, normalized (a msgget's new id is bound to "q<n>" here). */
  state(n: number): CallState {
    const c = this.calls.get(n);
    if (c === undefined) throw new Error(`no call of step ${n}`);
    if (c.state !== undefined) return c.state;
    const o: Outcome | undefined = c.handle.outcome;
    if (o === undefined) return 'pending';
    const key = `${kindOf(c.step.op)}:${String(o.ok ? o.value : '')}`;
    if (o.ok && isGet(c.step.op) && typeof o.value === 'number' && !this.symbols.has(key)) {
      this.symbols.set(key, queueName(n));
      this.ids.set(queueName(n), o.value);
    }
    if (o.ok && isPair(c.step.op) && Array.isArray(o.value)) {
      // a new pipe's or socketpair's descriptors: named "r<n>"/"w<n>" or "x<n>"/"y<n>", as queues are
      pairNames(c.step.op, n).forEach((name, i) => {
        const fd = (o.value as unknown[])[i];
        if (typeof fd !== 'number') return;
        this.ids.set(name, fd);
        this.fdSymbols.set(fd, name);
      });
    }
    c.state = normalizeOutcome(c.step.op, c.decoded, o, this);
    return c.state;
  }

  /** Every id a msgget or semget of this run answered. */
  get created(): CreatedId[] {
    return [...this.answered.values()];
  }

  /** Calls made. */
  get made(): number {
    return this.calls.size;
  }

  /** Calls still asleep here (not those an exit abandoned). */
  pendingHandles(): CallHandle[] {
    return [...this.calls.values()].filter((c) => c.handle.outcome === undefined && !this.exited.has(c.step.by)).map((c) => c.handle);
  }
}

/** The emulator: a fresh kernel per run. */
export function emuLane(label = 'emu', options: EmuDriverOptions = {}): LaneKind {
  return {
    label,
    async acquire(actors, driverOptions) {
      const { EmuDriver } = await import('../conformance/emu-driver.js');
      const driver = new EmuDriver(options);
      await driver.start(actors, driverOptions);
      return driver;
    },
    async release(driver) {
      await driver.close();
    },
    async probe(word) {
      const { EmuDriver } = await import('../conformance/emu-driver.js');
      return new EmuDriver(options).probe(word);
    },
    async close() {},
  };
}

/** Threads of a process, from /proc (empty once it is gone). */
function procThreads(pid: number): number[] {
  try {
    return readdirSync(`/proc/${pid}/task`).map(Number);
  } catch {
    return [];
  }
}

/**
 * The real kernel, through the conformance NativeDriver, or why it is not
 * available here (the addon does not load; the runner is not root, so it
 * cannot run actors as other uids).
 */
export async function nativeLane(): Promise<LaneKind | { unavailable: string }> {
  const { nativeBackend } = await import('../conformance/backends.js');
  const entry = await nativeBackend();
  if (entry.unavailable !== undefined || entry.makeDriver === undefined) return { unavailable: entry.unavailable ?? 'no driver' };
  if (process.getuid?.() !== 0) return { unavailable: 'the fuzzer runs actors as other uids, which needs root' };
  const { openNative } = await import('../native/index.js');
  const makeDriver = entry.makeDriver;
  let kept: { driver: Driver; actors: string; calls: number } | undefined;

  const drop = async (): Promise<void> => {
    const k = kept;
    kept = undefined;
    await k?.driver.close();
  };

  return {
    label: 'native',
    async acquire(actors, options) {
      const key = JSON.stringify(actors);
      if (kept !== undefined && kept.actors === key) return kept.driver;
      await drop();
      const driver = await makeDriver();
      try {
        await driver.start(actors, options);
      } catch (e) {
        await driver.close().catch(() => undefined);
        throw new LaneFailure(`native: starting the actors: ${e instanceof Error ? e.message : String(e)}`);
      }
      kept = { driver, actors: key, calls: 0 };
      return driver;
    },
    async release(driver, ids, calls, made, forked = false) {
      const self = openNative().self();
      const failures: string[] = [];
      for (const { kind, id } of ids) {
        try {
          if (kind === 'sem') self.semctl(id, 0, IPC_RMID);
          else self.msgctl(id, IPC_RMID);
        } catch (e) {
          // EINVAL: the run removed it itself
          if (!(e instanceof IpcError && e.errno === ERRNO.EINVAL)) failures.push(`${kind}ctl(${id}, IPC_RMID): ${e instanceof Error ? e.message : String(e)}`);
        }
      }
      // a descriptor call nothing else will end (the run stopped before its closing steps): interrupted,
      // as a signal without SA_RESTART ends it
      await Promise.all(calls.filter((c) => c.outcome === undefined && FD_OPS.has(c.op)).map((c) => driver.interrupt(c, false).catch(() => undefined)));
      const ended = await within(Promise.all(calls.map((c) => c.done)), ANSWER_MS);
      // after a fork the driver holds more actors than its cast (and maybe fewer): start afresh
      if (failures.length > 0 || !ended || kept?.driver !== driver || forked) {
        // the agents cannot be trusted with the next run: close() kills them and sweeps the key window
        if (kept?.driver === driver) await drop();
        else await driver.close();
        if (!ended) failures.push(`a call was still asleep ${ANSWER_MS / 1000} s after every queue of the run was removed`);
        if (failures.length > 0) throw new LaneFailure(`native: clean-up: ${failures.join('; ')}`);
        return;
      }
      kept.calls += made;
      if (kept.calls >= RECYCLE_CALLS) await drop();
    },
    threadsOf: procThreads,
    async probe(word) {
      return (await makeDriver()).probe?.(word);
    },
    close: drop,
  };
}

const DEFAULT_LIMITS = { msgmax: 8192, msgmnb: 16384, msgmni: 32000 };

/** The machine's message-queue sysctls (Linux's defaults where there is no /proc). */
export function machineLimits(): { msgmax: number; msgmnb: number; msgmni: number } {
  const read = (name: keyof typeof DEFAULT_LIMITS): number => {
    try {
      const v = Number(readFileSync(`/proc/sys/kernel/${name}`, 'utf8').trim());
      return Number.isSafeInteger(v) && v > 0 ? v : DEFAULT_LIMITS[name];
    } catch {
      return DEFAULT_LIMITS[name];
    }
  };
  return { msgmax: read('msgmax'), msgmnb: read('msgmnb'), msgmni: read('msgmni') };
}

export { DEFAULT_LIMITS };
