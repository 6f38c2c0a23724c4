/**
 * Runs a trace on two lanes in lockstep — the subject (the emulator) and the
 * reference (the kernel) — one step at a time, and compares after every
 * step: the step's own answer, whether it sleeps, and, for every call asleep
 * before the step, whether it is still asleep and how it ended. The first
 * difference stops the run: from there on the two backends hold different
 * states, and every later difference would only echo it.
 *
 * Both lanes start each step together, so the native round trip overlaps
 * the emulator's work; before the next step, every call on both has
 * answered or sleeps (LaneRun.settleAfter), as in the conformance runner.
 */

import { randomInt } from 'node:crypto';
import { tmpdir } from 'node:os';
import type { ActorSpec, DriverOptions } from '../conformance/driver.js';
import type { Observation } from './generate.js';
import { LaneFailure, LaneRun, UnboundName, type LaneKind } from './lane.js';
import { compareStates, stepLabel, type CallState } from './normalize.js';
import { isForked, isGet, isPair, pairNames, queueName, type FuzzStep } from './trace.js';

/** Where steps come from: the generator (fed back what the reference answered) or a fixed list. */
export interface StepSource {
  next(): FuzzStep | undefined;
  observe?(step: FuzzStep, obs: Observation): void;
}

/** A fixed list of steps. */
export function listSource(steps: readonly FuzzStep[]): StepSource {
  let i = 0;
  return { next: () => steps[i++] };
}

/** What one step did on both lanes: [subject, reference]. */
export interface StepRecord {
  step: FuzzStep;
  /** The step's own call (absent for an interrupt). */
  own?: [CallState, CallState];
  /** Earlier calls that ended on either lane during this step. */
  ended: Array<{ n: number; states: [CallState, CallState] }>;
}

export interface Divergence {
  /** The step after which it showed. */
  at: number;
  /** The step of the call whose answers differ (`at`, or an earlier call that was asleep). */
  call: number;
  /** The differing call's step label ("msgrcv", "msgctl IPC_STAT"). */
  label: string;
  /** What differs ("errno ENOMSG/E2BIG", "value.msg_qnum", "pending only on the subject"). */
  what: string;
  /** label + what (+ "woken" when an earlier call differs): the same bug gives the same signature. */
  signature: string;
  subject: CallState;
  reference: CallState;
}

export interface RunResult {
  records: StepRecord[];
  /** Steps run (the divergent one included). */
  steps: number;
  divergence?: Divergence;
  /** Why the list could not run (minimization only): a step named a queue or call this subsequence lacks. */
  invalid?: string;
}

export interface LanePair {
  subject: LaneKind;
  reference: LaneKind;
}

/**
 * The native settle window. FORMAT.md's 50 ms is for hand-written scenarios;
 * NativeDriver.settle() also waits until /proc shows the call's thread asleep
 * in msgsnd/msgrcv on that id, which is what decides, so a short window only
 * saves time.
 */
export const DEFAULT_SETTLE_MS = 5;

// Key windows as the conformance runner lays them out (2^14 keys from a multiple of 2^14),
// from a random start, moving on for every run so that runs of this process never share one.
const LAST_WINDOW = (0x7fffffff >> 14) - 1;
let nextWindow = randomInt(0x100, LAST_WINDOW);

function takeKeyBase(): number {
  const w = nextWindow;
  nextWindow = nextWindow >= LAST_WINDOW ? 0x100 : nextWindow + 1;
  return w << 14;
}

/** The reference's answers, as the generator may see them. */
function observation(step: FuzzStep, rec: StepRecord): Observation {
  const done = rec.ended.filter((e) => e.states[1] !== 'pending');
  const ended = done.map((e) => e.n);
  // what the calls that ended now answered (a woken read's bytes, a blocking write's count)
  const values = new Map<number, unknown>();
  for (const e of done) {
    const st = e.states[1];
    if (st !== 'pending' && 'value' in st) values.set(e.n, st.value);
  }
  if (rec.own === undefined) return { ended, values };
  const ref = rec.own[1];
  if (ref === 'pending') return { own: { pending: true }, ended, values };
  const ok = 'value' in ref;
  const queue = ok && step.kind === 'call' && isGet(step.op) && typeof ref.value === 'string' ? ref.value.slice(1) : undefined;
  return { own: { pending: false, ok, ...(queue !== undefined && { queue }), ...(ok && { value: ref.value }) }, ended, values };
}

function difference(at: number, call: number, label: string, states: [CallState, CallState], woken: boolean): Divergence | undefined {
  const what = compareStates(states[0], states[1]);
  if (what === undefined) return undefined;
  return { at, call, label, what, signature: `${woken ? 'woken ' : ''}${label}: ${what}`, subject: states[0], reference: states[1] };
}

/** Runs steps from `source` on the two lanes until it ends or they differ. */
export async function runLockstep(source: StepSource, lanes: readonly [LaneRun, LaneRun]): Promise<RunResult> {
  const records: StepRecord[] = [];
  /** Calls asleep on both lanes (they agree, or the run has stopped), by step. */
  const asleep = new Map<number, string>();
  for (let step = source.next(); step !== undefined; step = source.next()) {
    const s = step;
    const before = [...asleep.keys()];
    if (s.kind === 'call') {
      let mayBlock: boolean[];
      try {
        mayBlock = lanes.map((l) => l.start(s));
      } catch (e) {
        if (e instanceof UnboundName) return { records, steps: records.length, invalid: e.message };
        throw e;
      }
      await Promise.all(lanes.map((l, i) => l.settleAfter(s.n, mayBlock[i]!)));
    } else if (s.kind === 'fork' || s.kind === 'exit') {
      await Promise.all(lanes.map((l) => (s.kind === 'fork' ? l.fork(s.by, s.child) : l.exit(s.by))));
    } else {
      if (!asleep.has(s.target) || !lanes.every((l) => l.asleep(s.target))) {
        return { records, steps: records.length, invalid: `step ${s.n} interrupts step ${s.target}, which is not asleep` };
      }
      await Promise.all(lanes.map((l) => l.interrupt(s.target, s.restart === true)));
    }

    const rec: StepRecord = { step: s, ended: [] };
    if (s.kind === 'call') rec.own = [lanes[0].state(s.n), lanes[1].state(s.n)];
    for (const m of before) {
      const states: [CallState, CallState] = [lanes[0].state(m), lanes[1].state(m)];
      if (states[0] !== 'pending' || states[1] !== 'pending') rec.ended.push({ n: m, states });
    }
    records.push(rec);
    for (const lane of [rec.own?.[1], ...rec.ended.map((e) => e.states[1])]) {
      if (lane !== undefined && lane !== 'pending' && 'fault' in lane) throw new LaneFailure(`${lanes[1].kind.label}: ${lane.fault}`);
    }

    let divergence = rec.own && difference(s.n, s.n, stepLabel(s), rec.own, false);
    for (const e of rec.ended) divergence ??= difference(s.n, e.n, asleep.get(e.n)!, e.states, true);
    if (divergence !== undefined) return { records, steps: records.length, divergence };

    for (const e of rec.ended) asleep.delete(e.n);
    if (rec.own?.[1] === 'pending') asleep.set(s.n, stepLabel(s));
    source.observe?.(s, observation(s, rec));
  }
  return { records, steps: records.length };
}

export interface RunOptions {
  actors: Record<string, ActorSpec>;
  settleMs?: number;
}

/**
 * Runs `source` on fresh lanes of `pair` (a new key window; the native agents
 * are reused) and gives both back whatever happened.
 */
export async function runTrace(pair: LanePair, source: StepSource, options: RunOptions): Promise<RunResult> {
  const driverOptions: DriverOptions = {
    settleMs: options.settleMs ?? DEFAULT_SETTLE_MS,
    keyBase: takeKeyBase(),
    mqPrefix: '/ipcemu-fuzz.',
    dir: tmpdir(),
  };
  const names = Object.keys(options.actors);
  const kinds = [pair.subject, pair.reference] as const;
  const drivers = await Promise.all(kinds.map((k) => k.acquire(options.actors, driverOptions)));
  const lanes = [new LaneRun(kinds[0], drivers[0]!, [...names], driverOptions), new LaneRun(kinds[1], drivers[1]!, [...names], driverOptions)] as const;
  let result: RunResult | undefined;
  try {
    result = await runLockstep(source, lanes);
    return result;
  } finally {
    // both are given back even when one fails; the first failure is the one reported
    const released = await Promise.allSettled(lanes.map((l) => l.kind.release(l.driver, l.created, l.pendingHandles(), l.made, l.forked)));
    const failed = released.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed !== undefined && result !== undefined) throw failed.reason;
  }
}

/** The queue symbols a step names, the call it interrupts, the forked actor it runs as: what must come before it in any subsequence. */
export function needs(step: FuzzStep): { queues: string[]; call?: number; actor?: string } {
  if (step.kind === 'interrupt') return { queues: [], call: step.target };
  const actor = isForked(step.by) ? step.by : undefined;
  if (step.kind === 'fork' || step.kind === 'exit') return { queues: [], ...(actor !== undefined && { actor }) };
  const queues: string[] = [];
  const walk = (v: unknown): void => {
    // queues and descriptors alike: "$q5", "$r5" / "$w5" (pipe), "$x5" / "$y5" (socketpair)
    if (typeof v === 'string' && /^\$[qrwxy]\d+$/.test(v)) queues.push(v.slice(1));
    else if (Array.isArray(v)) v.forEach(walk);
  };
  walk(step.args);
  return { queues, ...(actor !== undefined && { actor }) };
}

/**
 * The steps of the list that can run: each step whose queues no earlier
 * kept msgget could have bound, or whose interrupted call is not kept, is
 * dropped, and so, in turn, are the steps that needed it.
 */
export function runnable(steps: readonly FuzzStep[]): FuzzStep[] {
  const seen = new Set<string>();
  const calls = new Set<number>();
  /** Forked actors alive at this point of the list. */
  const actors = new Set<string>();
  const out: FuzzStep[] = [];
  for (const s of steps) {
    const need = needs(s);
    if (need.queues.some((q) => !seen.has(q))) continue;
    if (need.call !== undefined && !calls.has(need.call)) continue;
    if (need.actor !== undefined && !actors.has(need.actor)) continue;
    out.push(s);
    if (s.kind === 'fork') actors.add(s.child);
    if (s.kind === 'exit') actors.delete(s.by);
    if (s.kind === 'call') {
      calls.add(s.n);
      if (isGet(s.op)) seen.add(queueName(s.n));
      if (isPair(s.op)) for (const name of pairNames(s.op, s.n)) seen.add(name);
    }
  }
  return out;
}

/** Whether every queue a step names could have been bound by an earlier msgget of the list, and every interrupted call is in it. */
export function wellFormed(steps: readonly FuzzStep[]): boolean {
  return runnable(steps).length === steps.length;
}
